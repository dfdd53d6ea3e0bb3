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

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
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
		keys, err := testenv.ScanKeys(context.Background(), rdb, s.prefix+":*") // every master of a Cluster
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range keys {
			// Fleet-wide keys (the VOD quota, the reaper's lease) come and
			// go on their own clock; everything else counts.
			if !strings.Contains(k, ":vodquota:") && !strings.HasSuffix(k, ":reaper:lease") {
				n++
			}
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

// Issue 12, defect 3: OSS refusing the finish (403 SignatureDoesNotMatch
// on PutObject, and on CompleteMultipartUpload) is answered like the same
// refusal at initiation, 503 ERR_STORAGE_UNAVAILABLE with Retry-After, on
// the final PATCH and on every HEAD, with no SDK text or request ID in the
// body; once OSS accepts again, the upload finishes.
func TestOSSRejectionAtFinishIsClean(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_PART_SIZE": "256KiB", "VODGATE_OSS_ATTEMPTS": "1"}})
	for _, tc := range []struct {
		name string
		op   string
		size int64
	}{
		{"put", "PutObject", 200 << 10},
		{"complete", "CompleteMultipartUpload", 600 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := makeSource(t, tc.size, 1203)
			data := src.readRange(t, 0, src.Size)
			u, _ := createUpload(t, s.GW.Endpoint(), src.Size, map[string]string{"filename": "finish.mp4"})
			s.OSS.FailNext(osstest.Op(tc.op), 100, http.StatusForbidden, "SignatureDoesNotMatch")
			check := func(what string, r rawResp) {
				t.Helper()
				if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
					t.Errorf("%s: %d %q Retry-After %q, want 503 with Retry-After", what, r.Status, r.Body, r.Header.Get("Retry-After"))
				}
				for _, leak := range []string{"oss:", "RequestId", "StatusCode", "SignatureDoesNotMatch", "tusstore"} {
					if strings.Contains(r.Body, leak) {
						t.Errorf("%s: body %q leaks %q", what, r.Body, leak)
					}
				}
			}
			check("final PATCH", patchUpload(t, u, 0, data))
			r := tusDo(t, http.MethodHead, u, nil, nil)
			if tc.op == "PutObject" {
				// Nothing became durable: the offset stays 0 and the
				// client sends the bytes again.
				if r.Status != http.StatusOK || r.Header.Get("Upload-Offset") != "0" {
					t.Errorf("HEAD after the refused put: %d offset %q, want 200 offset 0", r.Status, r.Header.Get("Upload-Offset"))
				}
			} else {
				check("HEAD", r) // the parts are durable; the finish is retried by HEAD
			}
			s.OSS.FailNext(osstest.Op(tc.op), 0, 0, "") // OSS accepts again
			if tc.op == "PutObject" {
				if r := patchUpload(t, u, 0, data); r.Status != http.StatusNoContent {
					t.Fatalf("PATCH resent after OSS recovered: %d %q", r.Status, r.Body)
				}
			}
			if !waitFor(20*time.Second, func() bool {
				r := tusDo(t, http.MethodHead, u, nil, nil)
				return r.Status == http.StatusOK && r.Header.Get("Upload-Offset") == itoa(src.Size)
			}) {
				t.Fatal("upload did not finish once OSS accepted again")
			}
			s.checkUploaded(t, tusDo(t, http.MethodHead, u, nil, nil).Header.Get("Vod-Media-Id"), src)
		})
	}
}

// Issue 12, defect 4: a title with LF or TAB, or a file name with U+202E,
// is refused with 400 before VOD is called.
func TestTextRulesBeforeVOD(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, meta := range []map[string]string{
		{"filename": "a.mp4", "title": "line\nfeed"},
		{"filename": "a.mp4", "title": "tab\there"},
		{"filename": "a\u202e4pm.exe.mp4"},
		{"filename": "a.mp4", "title": "sep\u2028x"},
	} {
		r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{"Upload-Length": "10", "Upload-Metadata": encodeMetadata(meta)}, nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "ERR_INVALID_METADATA") {
			t.Errorf("POST %q: %d %q, want 400 ERR_INVALID_METADATA", meta, r.Status, r.Body)
		}
	}
	if n := s.VOD.CallCount("CreateUploadVideo"); n != 0 {
		t.Errorf("VOD was called %d times for refused metadata", n)
	}
}

// Issue 12, defect 5: a client's userData cannot point VOD's callbacks at
// a host the operator did not allow, nor forge Extend; coverURL cannot
// name a non-public address. Refusals are 400 before any VOD call.
func TestUserDataPolicy(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_USER_DATA_CALLBACK_HOSTS": "hooks.example.com"}})
	post := func(meta map[string]string) rawResp {
		meta["filename"] = "a.mp4"
		return tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{"Upload-Length": "10", "Upload-Metadata": encodeMetadata(meta)}, nil)
	}
	for _, meta := range []map[string]string{
		{"userData": `{"MessageCallback":{"CallbackURL":"https://evil.example/cb"}}`},
		{"userData": `{"Extend":{"role":"admin"}}`},
		{"coverURL": "http://169.254.169.254/latest/meta-data"},
		{"coverURL": "https://user:pw@img.example.com/c.jpg"},
	} {
		if r := post(meta); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "ERR_INVALID_METADATA") {
			t.Errorf("POST %q: %d %q, want 400 ERR_INVALID_METADATA", meta, r.Status, r.Body)
		}
	}
	if n := s.VOD.CallCount("CreateUploadVideo"); n != 0 {
		t.Errorf("VOD called %d times for refused userData", n)
	}
	if r := post(map[string]string{"userData": `{"MessageCallback":{"CallbackURL":"https://hooks.example.com/cb"}}`}); r.Status != http.StatusCreated {
		t.Errorf("POST with an allowed callback host: %d %q", r.Status, r.Body)
	}
}
