package limits

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	w := time.Minute
	for _, tc := range []struct {
		name             string
		limit, cur, prev int64
		elapsed          time.Duration
		want             time.Duration
	}{
		{"current window full", 10, 10, 0, 15 * time.Second, 45*time.Second + 6*time.Second},
		{"previous window slides out", 10, 5, 10, 30 * time.Second, 30*time.Second - 24*time.Second},
		{"previous alone blocks until it slides", 10, 0, 20, 0, w - w*9/20},
		{"limit 1", 1, 1, 0, 0, 2 * w},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := retryAfter(tc.limit, tc.cur, tc.prev, w, tc.elapsed)
			if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("retryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSlidingWindow(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := &fakeClock{t: time.UnixMilli(1_800_000_000_000 - 1_800_000_000_000%60_000)} // a window start
		l, err := New(b.rdb, Config{Prefix: b.prefix, Window: time.Minute, IPRequests: 10, Clock: clock.now, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		count := func(n int) (allowed int, retry time.Duration) {
			for range n {
				v, err := l.allow(ctx, "ip:192.0.2.1", "req", 10)
				if err != nil {
					t.Fatal(err)
				}
				if v.allowed {
					allowed++
				} else {
					retry = v.retryAfter
				}
			}
			return allowed, retry
		}
		if got, retry := count(15); got != 10 || retry != time.Minute+6*time.Second {
			t.Fatalf("first window: %d allowed, retry %v; want 10, 1m6s", got, retry)
		}
		// Half-way into the next window, half of the previous count
		// still weighs: 10*0.5 = 5 slots left.
		clock.add(90 * time.Second)
		if got, _ := count(10); got != 5 {
			t.Fatalf("next window: %d allowed, want 5", got)
		}
		// Another subject is independent.
		if v, _ := l.allow(ctx, "ip:192.0.2.2", "req", 10); !v.allowed {
			t.Fatal("other subject limited")
		}
		clock.add(2 * time.Minute)
		if got, _ := count(10); got != 10 {
			t.Fatalf("two windows later: %d allowed, want 10", got)
		}
	})
}

// A flood of 10,000 creations from one owner gets 429s after the limit,
// each with Retry-After, and leaves a handful of keys, all with TTLs.
func TestFloodOfCreations(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		l, err := New(b.rdb, Config{Prefix: b.prefix, Window: time.Minute, OwnerRequests: 1000,
			OwnerCreates: 100, OwnerUploads: 20, IPRequests: 5000, OwnerOf: ownerOf, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		h := l.Request(l.Caller(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			w.Header().Set("Location", fmt.Sprintf("http://gw/files/upload%05d", n))
			w.WriteHeader(http.StatusCreated)
		})))
		codes := map[int]int{}
		for i := range 10000 {
			req := httptest.NewRequest(http.MethodPost, "/files/", nil)
			req.RemoteAddr = "198.51.100." + strconv.Itoa(i%7) + ":1234"
			rec := serve(h, asOwner(req, "flooder"))
			codes[rec.Code]++
			if rec.Code == http.StatusTooManyRequests {
				if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
					t.Fatalf("429 with Retry-After %q", rec.Header().Get("Retry-After"))
				}
			}
		}
		if codes[http.StatusCreated] != 20 || codes[http.StatusTooManyRequests] != 9980 {
			t.Fatalf("answers %v, want 20 created (unfinished-upload cap) and 9980 refused", codes)
		}
		keys := b.keys(t)
		// 7 client IPs' request counters, the owner's request and creation
		// counters: one key per window each (two if the flood crossed a
		// window boundary), plus the owner's uploads set. Bounded whatever
		// the flood's size.
		if len(keys) < 10 || len(keys) > 19 {
			t.Fatalf("%d keys after the flood, want 10 (19 across a window boundary): %v", len(keys), keys)
		}
		for k, ttl := range keys {
			if ttl <= 0 {
				t.Fatalf("key %s has no TTL (%v)", k, ttl)
			}
		}
		set := b.prefix + ":limit:{o:flooder}:uploads"
		if c, err := b.rdb.ZCard(context.Background(), set).Result(); err != nil || c != 20 {
			t.Fatalf("uploads set has %d members (%v), want 20", c, err)
		}
		if len(keys) == 0 || !strings.HasPrefix(firstKey(keys), b.prefix+":limit:{") {
			t.Fatalf("unexpected keys %v", keys)
		}
	})
}

func firstKey(m map[string]time.Duration) string {
	for k := range m {
		return k
	}
	return ""
}
