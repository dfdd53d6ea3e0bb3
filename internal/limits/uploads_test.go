package limits

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// fakeTus answers like tusd: POST creates upload<N> (or fails or finishes
// at once, per the request's X-Test header), PATCH and DELETE answer 204.
type fakeTus struct {
	l *Limiter
	n int
}

func (f *fakeTus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		switch r.Header.Get("X-Test") {
		case "fail":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "finish": // an empty upload finishes within its creation
			_, _ = f.l.PreFinishResponse(handler.HookEvent{Context: r.Context(), Upload: handler.FileInfo{ID: "x"}})
		}
		f.n++
		w.Header().Set("Location", "http://gw/files/upload"+string(rune('0'+f.n)))
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestUnfinishedUploads(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := &fakeClock{t: time.Now()}
		l, err := New(b.rdb, Config{Prefix: b.prefix, OwnerUploads: 2, UploadIdle: time.Hour,
			OwnerOf: ownerOf, Clock: clock.now, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		tus := &fakeTus{l: l}
		h := l.Caller(tus)
		do := func(method, path, owner, test string) int {
			req := httptest.NewRequest(method, path, nil)
			if test != "" {
				req.Header.Set("X-Test", test)
			}
			rec := serve(h, asOwner(req, owner))
			if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			return rec.Code
		}
		finish := func(owner, id string) {
			ctx := context.WithValue(context.Background(), ownerKey{}, owner)
			if _, err := l.PreFinishResponse(handler.HookEvent{Context: ctx, Upload: handler.FileInfo{ID: id}}); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name         string
			method, path string
			owner, test  string
			want         int
			after        func()
		}{
			{name: "first", method: "POST", path: "/files/", owner: "ann", want: 201},
			{name: "failed creation takes no slot", method: "POST", path: "/files/", owner: "ann", test: "fail", want: 500},
			{name: "finished at creation takes no slot", method: "POST", path: "/files", owner: "ann", test: "finish", want: 201},
			{name: "second", method: "POST", path: "/files/", owner: "ann", want: 201},
			{name: "third refused", method: "POST", path: "/files/", owner: "ann", want: 429},
			{name: "other owner", method: "POST", path: "/files/", owner: "ben", want: 201}, // upload4
			{name: "delete frees a slot", method: "DELETE", path: "/files/upload1", owner: "ann", want: 204},
			{name: "after delete", method: "POST", path: "/files/", owner: "ann", want: 201},
			{name: "full again", method: "POST", path: "/files/", owner: "ann", want: 429,
				after: func() { finish("ann", "upload3") }},
			{name: "after finish", method: "POST", path: "/files/", owner: "ann", want: 201},
			{name: "full", method: "POST", path: "/files/", owner: "ann", want: 429,
				after: func() { clock.add(50 * time.Minute) }},
			{name: "patch keeps upload6 counting", method: "PATCH", path: "/files/upload6", owner: "ann", want: 204,
				after: func() { clock.add(20 * time.Minute) }},
			{name: "idle upload5 no longer counts", method: "POST", path: "/files/", owner: "ann", want: 201},
			{name: "upload6 still counts", method: "POST", path: "/files/", owner: "ann", want: 429},
		}
		for _, s := range steps {
			if got := do(s.method, s.path, s.owner, s.test); got != s.want {
				t.Fatalf("%s: status %d, want %d", s.name, got, s.want)
			}
			if s.after != nil {
				s.after()
			}
		}
		members, err := b.rdb.ZRange(context.Background(), b.prefix+":limit:{o:ann}:uploads", 0, -1).Result()
		if err != nil || len(members) != 2 || members[0] != "upload6" || members[1] != "upload7" {
			t.Fatalf("members %v (%v), want [upload6 upload7]", members, err)
		}
	})
}

func TestRedisDown(t *testing.T) {
	// A port nothing listens on: every call fails fast.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, tc := range []struct {
		name       string
		failClosed bool
		want       int
	}{
		{"fail open", false, http.StatusNoContent},
		{"fail closed", true, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(rdb, Config{IPRequests: 10, OwnerRequests: 10, OwnerUploads: 1, FailClosed: tc.failClosed,
				OwnerOf: ownerOf, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			h := l.Request(l.Caller(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			})))
			for _, m := range []string{"POST", "PATCH"} {
				path := "/files/"
				if m == "PATCH" {
					path += "abc"
				}
				rec := serve(h, asOwner(httptest.NewRequest(m, path, nil), "ann"))
				if rec.Code != tc.want {
					t.Fatalf("%s: status %d, want %d", m, rec.Code, tc.want)
				}
				if tc.failClosed && rec.Header().Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
			}
			if got := counterValue(l.metrics.redisErrors); got == 0 {
				t.Fatal("Redis errors not counted")
			}
		})
	}
}
