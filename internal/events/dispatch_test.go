package events

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// hookServer answers deliveries with status(id, attempt) and records them.
type hookServer struct {
	mu       sync.Mutex
	attempts map[string]int
	order    []string // ids in the order answered 2xx
	status   func(id string, attempt int) int
	secrets  []Secret
	t        *testing.T
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	if got, want := r.Header.Get("webhook-signature"), Sign(h.secrets, id, ts, body); got != want {
		h.t.Errorf("signature %q, want %q", got, want)
	}
	h.mu.Lock()
	h.attempts[id]++
	code := h.status(id, h.attempts[id])
	if code < 300 {
		h.order = append(h.order, id)
	}
	h.mu.Unlock()
	w.WriteHeader(code)
}

func (h *hookServer) snapshot() (map[string]int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := map[string]int{}
	for k, v := range h.attempts {
		a[k] = v
	}
	return a, append([]string(nil), h.order...)
}

func TestDispatcher(t *testing.T) {
	rdb := testenv.Redis(t)
	secrets, err := ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n# old\nwhsec_dGhpcyBpcyBhIHNlY3JldCBvZiAyNCBieXRlcw==")
	if err != nil {
		t.Fatal(err)
	}
	const poison, gone, first, second = "poison", "gone", "first", "second"
	for _, tc := range []struct {
		name string
		// status answers by subject and attempt
		status func(subject string, attempt int) int
		check  func(t *testing.T, attempts map[string]int, order []string, ids map[string]string, dead int64)
	}{
		{"a failing event is dead-lettered after max age and holds up only its lane",
			func(s string, _ int) int {
				if s == poison {
					return 500
				}
				return 200
			},
			func(t *testing.T, attempts map[string]int, order []string, ids map[string]string, dead int64) {
				if dead != 1 || attempts[ids[poison]] < 2 {
					t.Errorf("dead letters %d, poison attempts %d; want 1 dead letter after retries", dead, attempts[ids[poison]])
				}
				for _, k := range []string{gone, first, first + "2", second} {
					if attempts[ids[k]] != 1 {
						t.Errorf("event %s attempted %d times, want once (delivered, not dead-lettered)", k, attempts[ids[k]])
					}
				}
			}},
		{"410 stops the event without a dead letter",
			func(s string, _ int) int {
				if s == gone {
					return 410
				}
				return 204
			},
			func(t *testing.T, attempts map[string]int, order []string, ids map[string]string, dead int64) {
				if dead != 0 || attempts[ids[gone]] != 1 {
					t.Errorf("dead letters %d, gone attempts %d; want 0 and 1", dead, attempts[ids[gone]])
				}
			}},
		{"one subject's events are delivered in order through retries",
			func(s string, attempt int) int {
				if s == first && attempt < 3 {
					return 503
				}
				return 200
			},
			func(t *testing.T, attempts map[string]int, order []string, ids map[string]string, dead int64) {
				pos := map[string]int{}
				for i, id := range order {
					pos[id] = i
				}
				if attempts[ids[first]] != 3 || pos[ids[first]] > pos[ids[first+"2"]] {
					t.Errorf("order %v attempts %v: the retried event must precede its successor", order, attempts)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.KeyPrefix(t, rdb)
			hs := &hookServer{attempts: map[string]int{}, secrets: secrets, t: t}
			subjects := map[string]string{}
			hs.status = func(id string, attempt int) int { return tc.status(subjects[id], attempt) }
			srv := httptest.NewServer(hs)
			defer srv.Close()
			out := NewOutbox(rdb, prefix)
			ctx := context.Background()
			ids := map[string]string{}
			emit := func(subject, key, disc string) {
				if err := out.Notify(ctx, UploadCreated, subject, disc, map[string]any{"k": key}); err != nil {
					t.Fatal(err)
				}
				id := EventID(UploadCreated, subject, disc)
				ids[key], subjects[id] = id, subject
			}
			emit(poison, poison, "")
			emit(gone, gone, "")
			emit(first, first, "1")
			emit(first, first+"2", "2")
			emit(second, second, "")
			d, err := NewDispatcher(DispatcherConfig{Redis: rdb, Prefix: prefix, Endpoints: []Endpoint{{URL: srv.URL}},
				Secrets: secrets, MaxAge: 700 * time.Millisecond, RetryBase: 20 * time.Millisecond, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			go d.Run(rctx)
			deadline := time.Now().Add(3 * time.Second)
			for {
				a, _ := hs.snapshot()
				dead, _ := rdb.XLen(ctx, deadKey(prefix)).Result()
				done := a[ids[second]] > 0 && a[ids[first+"2"]] > 0 && a[ids[gone]] > 0
				if tc.name[0] == 'a' {
					done = done && dead == 1
				}
				if done || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			a, order := hs.snapshot()
			dead, _ := rdb.XLen(ctx, deadKey(prefix)).Result()
			tc.check(t, a, order, ids, dead)
		})
	}
}

func TestParseEndpointAndSecrets(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ok    bool
		wants map[string]bool
	}{
		{"https://a.example/h", true, map[string]bool{"upload.created": true, "media.failed": true}},
		{"https://a.example/h#upload.completed+media.*", true, map[string]bool{"upload.completed": true, "media.transcoded": true, "upload.created": false}},
		{"https://a.example/h#upload.finished", false, nil},
		{"ftp://a.example/h", false, nil},
	} {
		ep, err := ParseEndpoint(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseEndpoint(%q) err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		for typ, want := range tc.wants {
			if ep.Wants(typ) != want {
				t.Errorf("%q wants %s = %v", tc.in, typ, !want)
			}
		}
	}
	for _, bad := range []string{"", "sk_abc", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := ParseSecrets(bad); err == nil {
			t.Errorf("ParseSecrets(%q) accepted", bad)
		}
	}
	// Known answer from the Standard Webhooks specification's example.
	s, _ := ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := Sign(s, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("Sign = %q, want the spec's example signature", got)
	}
	var b body
	if err := json.Unmarshal([]byte(`{"type":"upload.created","timestamp":"x","data":{}}`), &b); err != nil || b.Type != UploadCreated {
		t.Errorf("body shape: %v %+v", err, b)
	}
}
