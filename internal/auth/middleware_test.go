package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMiddleware(t *testing.T) {
	a := newTestAuth(t, nil)
	reg := prometheus.NewRegistry()
	if err := a.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var seen struct {
		owner, authz string
		called       bool
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.called = true
		c, _ := CallerOf(r.Context())
		seen.owner, seen.authz = c.Owner, r.Header.Get("Authorization")
		w.WriteHeader(http.StatusNoContent)
	}))
	good := signJWT(t, map[string]any{"alg": "HS256"}, claims(nil), testSecret)
	upTok, err := MintUploadToken(testTokenKey, UploadClaims{Subject: "carol", Expires: testNow.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired := signJWT(t, map[string]any{"alg": "HS256"}, claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), testSecret)
	for _, tc := range []struct {
		name      string
		method    string
		header    map[string]string
		status    int
		owner     string
		challenge string // substring of WWW-Authenticate
		body      string // substring of the body
	}{
		{name: "jwt", method: "HEAD", header: map[string]string{"Authorization": "Bearer " + good}, status: 204, owner: "alice"},
		{name: "upload token", method: "PATCH", header: map[string]string{"Authorization": "bearer " + upTok}, status: 204, owner: "carol"},
		{name: "preflight", method: "OPTIONS", status: 204},
		{name: "override to OPTIONS", method: "POST", header: map[string]string{"X-HTTP-Method-Override": "OPTIONS"}, status: 204},
		{name: "no token", method: "POST", status: 401, challenge: `Bearer realm="vodgate"`, body: "ERR_UNAUTHORIZED: missing bearer token"},
		{name: "basic auth", method: "HEAD", header: map[string]string{"Authorization": "Basic YTpi"}, status: 401, challenge: `realm="vodgate"`},
		{name: "empty bearer", method: "DELETE", header: map[string]string{"Authorization": "Bearer "}, status: 401},
		{name: "expired", method: "PATCH", header: map[string]string{"Authorization": "Bearer " + expired}, status: 401,
			challenge: `error="invalid_token", error_description="token expired"`, body: "token expired"},
		{name: "override PATCH without token", method: "POST", header: map[string]string{"X-HTTP-Method-Override": "PATCH"}, status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen.called, seen.owner, seen.authz = false, "", ""
			req := httptest.NewRequest(tc.method, "/files/abc", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 401 {
				if seen.called {
					t.Fatal("next handler ran")
				}
				if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) || got == "" {
					t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
				if tc.method != "HEAD" && !strings.Contains(rec.Body.String(), tc.body) {
					t.Fatalf("body %q, want %q", rec.Body, tc.body)
				}
				for _, secret := range []string{good, expired, upTok, string(testSecret)} {
					if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Header().Get("WWW-Authenticate"), secret) {
						t.Fatal("response leaks a secret")
					}
				}
				return
			}
			if seen.owner != tc.owner {
				t.Fatalf("owner %q, want %q", seen.owner, tc.owner)
			}
			if seen.authz != "" {
				t.Fatal("Authorization header reached the next handler")
			}
		})
	}
	if got := counterValue(a.metrics.rejections.WithLabelValues(ReasonMissing)); got != 4 {
		t.Fatalf("missing rejections = %v, want 4", got)
	}
	if got := counterValue(a.metrics.rejections.WithLabelValues(ReasonExpired)); got != 1 {
		t.Fatalf("expired rejections = %v, want 1", got)
	}
}

func TestMiddlewareDisabled(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, called = CallerOf(r.Context())
		called = !called
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/files/", nil))
	if !called {
		t.Fatal("request without caller did not pass")
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// Two Authorization header lines are refused with 400, whichever is valid:
// the middleware must not silently pick the first.
func TestMiddlewareDuplicateAuthorization(t *testing.T) {
	a := newTestAuth(t, nil)
	good := signJWT(t, map[string]any{"alg": "HS256"}, claims(nil), testSecret)
	called := false
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	for _, second := range []string{"Bearer " + good, "Bearer other", ""} {
		req := httptest.NewRequest(http.MethodPatch, "/files/abc", nil)
		req.Header.Add("Authorization", "Bearer "+good)
		req.Header.Add("Authorization", second)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || called || !strings.Contains(rec.Body.String(), "more than one Authorization header") {
			t.Fatalf("second header %q: %d %q (next called %v), want 400", second, rec.Code, rec.Body, called)
		}
		if strings.Contains(rec.Body.String(), good) {
			t.Fatal("response leaks the token")
		}
	}
	if got := counterValue(a.metrics.rejections.WithLabelValues(ReasonDuplicate)); got != 3 {
		t.Fatalf("duplicate rejections = %v, want 3", got)
	}
}
