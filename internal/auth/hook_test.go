package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/tusstore"
)

var hookSecret = []byte("hook-secret-0123456789abcdef0123456789")

func TestHook(t *testing.T) {
	type answer struct {
		status int
		body   string
		delay  time.Duration
	}
	for _, tc := range []struct {
		name     string
		answers  []answer // one per attempt; the last repeats
		headers  []string
		code     string // tus error code; "" for allowed
		status   int
		calls    int32
		wantMeta map[string]string // nil: unchanged
		reason   string
	}{
		{name: "allow", answers: []answer{{200, `{"allow":true}`, 0}}, calls: 1},
		{name: "allow with metadata", answers: []answer{{200, `{"allow":true,"metadata":{"title":"Set by app","description":null}}`, 0}},
			calls: 1, wantMeta: map[string]string{"filename": "a.mp4", "title": "Set by app"}},
		{name: "deny", answers: []answer{{200, `{"allow":false,"reason":"quota exceeded\r\nX-Evil: 1"}`, 0}},
			code: "ERR_UPLOAD_REJECTED", status: 403, calls: 1, reason: "quota exceeded  X-Evil: 1"},
		{name: "deny without reason", answers: []answer{{200, `{"allow":false}`, 0}}, code: "ERR_UPLOAD_REJECTED", status: 403, calls: 1},
		{name: "retries 5xx", answers: []answer{{502, "", 0}, {500, "", 0}, {200, `{"allow":true}`, 0}}, calls: 3},
		{name: "fails closed", answers: []answer{{503, "", 0}}, code: "ERR_HOOK_UNAVAILABLE", status: 503, calls: 3},
		{name: "timeout", answers: []answer{{200, `{"allow":true}`, 300 * time.Millisecond}}, code: "ERR_HOOK_UNAVAILABLE", status: 503, calls: 3},
		{name: "404 is not retried", answers: []answer{{404, "", 0}}, code: "ERR_HOOK_BAD_ANSWER", status: 502, calls: 1},
		{name: "not json", answers: []answer{{200, `allow`, 0}}, code: "ERR_HOOK_BAD_ANSWER", status: 502, calls: 1},
		{name: "bad metadata key", answers: []answer{{200, `{"allow":true,"metadata":{"a b":"x"}}`, 0}}, code: "ERR_HOOK_BAD_ANSWER", status: 502, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var got HookRequest
			var sigOK atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				body, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(body, &got)
				ts, mac, _ := strings.Cut(r.Header.Get(HookSignatureHeader), ",v1=")
				m := hmac.New(sha256.New, hookSecret)
				m.Write([]byte(strings.TrimPrefix(ts, "t=") + "."))
				m.Write(body)
				sigOK.Store(hex.EncodeToString(m.Sum(nil)) == mac)
				a := tc.answers[min(n, len(tc.answers))-1]
				if a.delay > 0 {
					select {
					case <-time.After(a.delay):
					case <-r.Context().Done():
						return
					}
				}
				w.WriteHeader(a.status)
				_, _ = io.WriteString(w, a.body)
			}))
			defer srv.Close()
			a, err := New(Config{JWTSecret: testSecret, Hook: HookConfig{URL: srv.URL, Timeout: 100 * time.Millisecond,
				Backoff: 5 * time.Millisecond, Secret: hookSecret, Headers: tc.headers},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.WithValue(WithCaller(context.Background(), tusstore.Caller{Owner: "alice", MaxSize: 10}),
				authHeaderKey{}, "Bearer secret-token")
			ev := handler.HookEvent{Context: ctx,
				Upload: handler.FileInfo{Size: 1234, MetaData: handler.MetaData{"filename": "a.mp4", "description": "d"}},
				HTTPRequest: handler.HTTPRequest{Method: "POST", URI: "/files/", RemoteAddr: "192.0.2.1:5555",
					Header: http.Header{"User-Agent": {"tus-js-client"}, "Cookie": {"session=1"}}}}
			_, changes, err := a.PreUploadCreate(ev)
			if n := calls.Load(); n != tc.calls {
				t.Errorf("hook calls %d, want %d", n, tc.calls)
			}
			if tc.code != "" {
				var he handler.Error
				if !errors.As(err, &he) || he.ErrorCode != tc.code || he.HTTPResponse.StatusCode != tc.status {
					t.Fatalf("error %v, want %s/%d", err, tc.code, tc.status)
				}
				if tc.reason != "" && he.Message != tc.reason {
					t.Fatalf("message %q, want %q", he.Message, tc.reason)
				}
				if tc.status == 503 && he.HTTPResponse.Header["Retry-After"] == "" {
					t.Fatal("503 without Retry-After")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantMeta == nil && changes.MetaData != nil {
				t.Fatalf("metadata changed: %v", changes.MetaData)
			}
			if tc.wantMeta != nil && !equalMeta(changes.MetaData, tc.wantMeta) {
				t.Fatalf("metadata %v, want %v", changes.MetaData, tc.wantMeta)
			}
			if !sigOK.Load() {
				t.Fatal("bad Vodgate-Signature")
			}
			if got.Caller == nil || got.Caller.Owner != "alice" || got.Upload.Size != 1234 || got.Upload.MetaData["filename"] != "a.mp4" {
				t.Fatalf("hook request %+v", got)
			}
			if _, ok := got.Request.Header["Authorization"]; ok {
				t.Fatal("Authorization forwarded without being allowlisted")
			}
			if _, ok := got.Request.Header["Cookie"]; ok {
				t.Fatal("Cookie forwarded without being allowlisted")
			}
			if got.Request.Header["User-Agent"][0] != "tus-js-client" {
				t.Fatalf("headers %v", got.Request.Header)
			}
		})
	}
}

func TestHookForwardsAuthorizationWhenListed(t *testing.T) {
	var got HookRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		_, _ = io.WriteString(w, `{"allow":true}`)
	}))
	defer srv.Close()
	a, err := New(Config{Hook: HookConfig{URL: srv.URL, Headers: []string{"authorization"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), authHeaderKey{}, "Bearer t0k")
	if _, _, err := a.PreUploadCreate(handler.HookEvent{Context: ctx, HTTPRequest: handler.HTTPRequest{Header: http.Header{}}}); err != nil {
		t.Fatal(err)
	}
	if v := got.Request.Header["Authorization"]; len(v) != 1 || v[0] != "Bearer t0k" {
		t.Fatalf("Authorization %v", v)
	}
	if got.Caller != nil {
		t.Fatalf("caller %+v without authentication", got.Caller)
	}
}

func equalMeta(a handler.MetaData, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
