package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Issue 12, defect 1: ownership is decided before tusd takes the upload's
// lock. Alice uploads with tus-js-client through a slow OSS while Bob, with
// a valid token of his own, polls HEAD, PATCH, DELETE and the method
// override on her upload URL. Every one of Bob's requests gets 404, and not
// one of Alice's PATCHes is interrupted (on today's main each HEAD stole
// her lock: ERR_UPLOAD_INTERRUPTED).
func TestNonOwnerCannotInterruptOwner(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_PART_SIZE":                  "256KiB",
	}})
	s.OSS.SetLatency(250 * time.Millisecond) // each PATCH holds the lock a while
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	bob := mintToken(t, keyFile, "bob", 10*time.Minute)
	src := makeSource(t, 3*MiB+99, 1201)

	run := startTus(t, tusOptions{
		Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: 256 << 10,
		Metadata: map[string]string{"filename": "alice.mp4"}, Headers: authHeader(alice),
		PauseBeforePatch: []int{1},
	})
	ev := run.mustEvent("paused", time.Minute)
	if ev.UploadURL == "" {
		t.Fatal("paused event without uploadUrl")
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var polls, wrong atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		probes := []struct {
			method string
			hdr    map[string]string
			body   []byte
		}{
			{http.MethodHead, nil, nil},
			{http.MethodPatch, patchHeaders(0), []byte("bob")},
			{http.MethodDelete, nil, nil},
			{http.MethodPost, map[string]string{"X-HTTP-Method-Override": "DELETE"}, nil},
		}
		for i := 0; ctx.Err() == nil; i++ {
			p := probes[i%len(probes)]
			r := tusDo(t, p.method, ev.UploadURL, authHeader(bob, p.hdr), p.body)
			polls.Add(1)
			if r.Status != http.StatusNotFound {
				wrong.Add(1)
				t.Errorf("bob's %s %v: %d %q, want 404", p.method, p.hdr, r.Status, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond) // bob is polling before alice goes on
	run.resume()
	res := run.wait(3 * time.Minute)
	stop()
	wg.Wait()
	requireOK(t, res)
	for _, rq := range res.Requests {
		if rq.Method == http.MethodPatch && rq.Status != http.StatusNoContent {
			t.Errorf("alice's PATCH answered %d while bob polled; requests: %s", rq.Status, describeRequests(res.Requests))
			break
		}
	}
	if polls.Load() < 10 {
		t.Errorf("bob polled only %d times during the upload", polls.Load())
	}
	s.checkUploaded(t, res.FinalMediaID, src)
}

// Issue 12, defect 2: requests for IDs the store never minted (malformed,
// or well formed but unknown) get 404 and leave no key in Redis.
func TestUnknownIDsLeaveNoState(t *testing.T) {
	s := newStack(t, stackOptions{})
	rdb := redisClient(t, s.env["VODGATE_REDIS_URL"])
	count := func() int {
		t.Helper()
		n := 0
		iter := rdb.Scan(context.Background(), 0, s.prefix+":*", 1000).Iterator()
		for iter.Next(context.Background()) {
			n++
		}
		if err := iter.Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		return n
	}
	// A real upload, so the prefix is in use and HEAD of it still works.
	real, _ := createUpload(t, s.GW.Endpoint(), 10, map[string]string{"filename": "a.mp4"})
	before := count()

	ids := []string{
		strings.Repeat("0", 32),                 // well formed, unknown
		"0123456789abcdef0123456789abcdef",      // well formed, unknown
		strings.Repeat("x", 60<<10),             // 60 KB
		url.PathEscape("a\r\nb"),                // CR LF
		url.PathEscape("a\x00b"),                // NUL
		url.PathEscape("{abc}*"),                // hash tags and globs
		strings.Repeat("A", 32),                 // upper case hex is not minted
		url.PathEscape(strings.Repeat("0", 31)), // too short
	}
	methods := []struct {
		method string
		hdr    map[string]string
	}{
		{http.MethodHead, nil},
		{http.MethodPatch, patchHeaders(0)},
		{http.MethodDelete, nil},
		{http.MethodPost, map[string]string{"X-HTTP-Method-Override": "PATCH", "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}},
	}
	n := 0
	for n < 1000 {
		for _, id := range ids {
			for _, m := range methods {
				r := tusDo(t, m.method, s.GW.Endpoint()+id, m.hdr, []byte("x"))
				if r.Status != http.StatusNotFound {
					t.Fatalf("%s %.40q: %d %q, want 404", m.method, id, r.Status, r.Body)
				}
				n++
			}
		}
	}
	if after := count(); after != before {
		t.Errorf("%d requests for unknown IDs changed the Redis key count %d -> %d", n, before, after)
	}
	if r := tusDo(t, http.MethodHead, real, nil, nil); r.Status != http.StatusOK {
		t.Errorf("HEAD of a real upload: %d", r.Status)
	}
}

// Issue 12, defect 6: with Redis down, POSTs get 503 with Retry-After and
// leave no VOD media behind once Redis is back.
func TestRedisDownCreatesNoMedia(t *testing.T) {
	rp := newRedisProc(t)
	s := newStack(t, stackOptions{RedisURL: rp.URL()})
	rp.Stop()
	for i := range 10 {
		r := tusDo(t, http.MethodPost, s.GW.Endpoint(), createHeaders(100, "down.mp4"), nil)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("POST %d with Redis down: %d Retry-After %q body %q", i, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	rp.Start()
	if m := s.VOD.AllMedia(); len(m) != 0 {
		t.Errorf("%d VOD media left behind by POSTs during the outage", len(m))
	}
	// The gateway reconnects by itself; then creation works again.
	created := waitFor(20*time.Second, func() bool {
		return tusDo(t, http.MethodPost, s.GW.Endpoint(), createHeaders(10, "up.mp4"), nil).Status == http.StatusCreated
	})
	if !created {
		t.Error("no POST succeeded within 20s of Redis coming back")
	}
	if m := s.VOD.AllMedia(); len(m) != 1 {
		t.Errorf("%d VOD media after one successful POST, want 1", len(m))
	}
}
