package tusstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

func TestUploadSizes(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name  string
		size  int
		chunk int // 0 = one PATCH
	}{
		{"empty", 0, 0},
		{"1 byte", 1, 0},
		{"99 KB", 99 * 1000, 0},
		{"100 KB + 1", 100<<10 + 1, 0},
		{"5 MiB + 3 in one PATCH", 5<<20 + 3, 0},
		{"5 MiB + 3 in 700 KB chunks", 5<<20 + 3, 700 << 10},
		{"3 MiB in 50 KB chunks (tails)", 3 << 20, 50 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(tc.size, uint64(tc.size))
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			chunk := tc.chunk
			if chunk == 0 {
				chunk = len(data)
			}
			for off := 0; off < len(data); off += chunk {
				end := min(off+chunk, len(data))
				res := e.patch(loc, int64(off), data[off:end], nil)
				if res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH at %d: status %d", off, res.StatusCode)
				}
				if got := res.Header.Get("Upload-Offset"); got != strconv.Itoa(end) {
					t.Fatalf("offset %s after PATCH to %d", got, end)
				}
			}
			e.checkObject(loc, data)
		})
	}
}

func TestDeferredLength(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(2<<20+77, 9)
	loc := e.create(-1, map[string]string{"filename": "clip.mp4"})
	half := len(data) / 2
	if res := e.patch(loc, 0, data[:half], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("first PATCH: %d", res.StatusCode)
	}
	res := e.patch(loc, int64(half), data[half:], map[string]string{"Upload-Length": strconv.Itoa(len(data))})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("last PATCH: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
}

// An interrupted body keeps every byte read, not only whole parts, whether
// its parts were streamed to OSS (Content-Length known) or not (chunked).
func TestInterruptedPatchKeepsBytes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, cut int
		chunked   bool // no Content-Length
	}{
		{"streamed parts", 5 << 20, 2<<20 + 300<<10, false}, // inside the third 1 MiB part
		{"chunked body", 5 << 20, 2<<20 + 300<<10, true},
		{"streamed whole object, cut after a part's worth", 800 << 10, 500 << 10, false},
		{"streamed whole object, cut inside the tail", 800 << 10, 60 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			data := randomBytes(tc.size, 3)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			cut := tc.cut
			pr, pw := io.Pipe()
			req, _ := http.NewRequest(http.MethodPatch, loc, pr)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.ContentLength = int64(tc.size)
			if tc.chunked {
				req.ContentLength = -1
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			}()
			if _, err := pw.Write(data[:cut]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			pw.CloseWithError(fmt.Errorf("client went away"))
			<-done
			var off int64
			for i := 0; i < 50; i++ { // the store persists after the request ends
				if off = e.offset(loc); off == int64(cut) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if off != int64(cut) {
				t.Fatalf("offset after cut = %d, want %d", off, cut)
			}
			if res := e.patch(loc, off, data[off:], nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("resume: %d", res.StatusCode)
			}
			e.checkObject(loc, data)
		})
	}
}

func TestCredentialExpiryRefreshes(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(3<<20, 4)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	e.patch(loc, 0, data[:1<<20], nil)
	e.vod.ExpireAll()
	if res := e.patch(loc, 1<<20, data[1<<20:], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH after expiry: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	if n := e.vod.CallCount("RefreshUploadVideo"); n != 1 {
		t.Fatalf("RefreshUploadVideo called %d times", n)
	}
}

func TestProactiveRefresh(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ttl           time.Duration // of VOD's credentials
		refreshBefore time.Duration
		wait          time.Duration
		due           time.Duration // a credential's age when it is due
	}{
		// 3,000 s credentials minus 2,998 s: due one to two seconds after
		// issue (VOD states the deadline in whole seconds, so it may be up
		// to a second earlier than issue + 3,000 s).
		{"refresh-before ahead of the deadline", 0, 2998 * time.Second, 2100 * time.Millisecond, time.Second},
		// 3 s credentials: due at 2.5 s (a sixth of the lifetime ahead), not
		// on every call as the 500 s default alone would make it.
		{"short-lived credentials", 3 * time.Second, DefaultRefreshBefore, 2600 * time.Millisecond, 2500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvTTL(t, tc.ttl, func(c *Config) { c.RefreshBefore = tc.refreshBefore })
			data := randomBytes(2<<20, 5)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			e.patch(loc, 0, data[:1<<20], nil)
			if n := e.vod.CallCount("RefreshUploadVideo"); n != 0 {
				t.Fatalf("refreshed %d times before it was due", n)
			}
			time.Sleep(tc.wait)
			began := time.Now()
			e.patch(loc, 1<<20, data[1<<20:], nil)
			e.checkObject(loc, data)
			// Once, unless the PATCH itself outlived the new credential's
			// due time (a slow run, e.g. with -race): then once per period.
			if n, most := e.vod.CallCount("RefreshUploadVideo"), 1+int(time.Since(began)/tc.due); n < 1 || n > most {
				t.Fatalf("RefreshUploadVideo called %d times, want 1 to %d", n, most)
			}
		})
	}
}

func TestOSSFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(o *osstest.Server)
	}{
		{"part 500 then success", func(o *osstest.Server) { o.FailNext(osstest.OpUploadPart, 1, 500, "InternalError") }},
		{"part connection reset", func(o *osstest.Server) { o.ResetNext(osstest.OpUploadPart, 1, 1000) }},
		{"complete response lost", func(o *osstest.Server) { o.LoseNextResponse(osstest.OpComplete, 1) }},
		{"complete 503", func(o *osstest.Server) { o.FailNext(osstest.OpComplete, 2, 503, "ServiceUnavailable") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			data := randomBytes(3<<20+5, 6)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			tc.inject(e.oss)
			if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH: %d", res.StatusCode)
			}
			e.checkObject(loc, data)
		})
	}
}

// A persistent OSS failure loses no acknowledged byte and answers 503.
func TestOSSOutageKeepsOffset(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OSSAttempts = 2 })
	data := randomBytes(4<<20, 7)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	e.patch(loc, 0, data[:1<<20], nil)
	e.oss.FailNext(osstest.OpUploadPart, 100, 503, "ServiceUnavailable")
	res := e.patch(loc, 1<<20, data[1<<20:], nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("PATCH during outage: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if off := e.offset(loc); off != 1<<20 {
		t.Fatalf("offset %d after failed PATCH", off)
	}
	e.oss.FailNext(osstest.OpUploadPart, 0, 0, "")
	if res := e.patch(loc, 1<<20, data[1<<20:], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH after outage: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
}

func TestTerminateAborts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DeleteMediaOnTerminate = true })
	data := randomBytes(1<<20+10, 8)
	loc := e.create(int64(len(data)+100), map[string]string{"filename": "clip.mp4"})
	e.patch(loc, 0, data, nil)
	if res := e.do(http.MethodDelete, loc, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if res := e.do(http.MethodHead, loc, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD after DELETE: %d", res.StatusCode)
	}
	if ups := e.oss.Uploads(); len(ups) != 0 {
		t.Fatalf("open multipart uploads after DELETE: %+v", ups)
	}
	if e.vod.CallCount("DeleteVideo") != 1 {
		t.Fatal("DeleteVideo not called")
	}
}

func TestInvalidMetadataRejected(t *testing.T) {
	e := newEnv(t, nil)
	res := e.do(http.MethodPost, e.url, map[string]string{"Upload-Length": "10",
		"Upload-Metadata": encodeMeta(map[string]string{"filename": "a.exe"})}, nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
	if n := e.vod.CallCount("CreateUploadVideo"); n != 0 {
		t.Fatalf("VOD called %d times for invalid metadata", n)
	}
}

func TestStaleWriterIsFenced(t *testing.T) {
	f := &fence{held: true}
	e := newEnv(t, func(c *Config) { c.Fencer = f })
	data := randomBytes(2<<20, 9)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	id := loc[strings.LastIndex(loc, "/")+1:]
	f.key = "vodgate:{" + id + "}:fence"
	e.mr.Set(f.key, "5")
	f.token = 5
	if res := e.patch(loc, 0, data[:1<<20], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("fenced PATCH with current token: %d", res.StatusCode)
	}
	e.mr.Set(f.key, "6") // another instance took the lock
	if res := e.patch(loc, 1<<20, data[1<<20:], nil); res.StatusCode != http.StatusLocked {
		t.Fatalf("stale PATCH: %d", res.StatusCode)
	}
	if off := e.offset(loc); off != 1<<20 {
		t.Fatalf("stale writer moved offset to %d", off)
	}
}

func TestBufferBudgetAnswers503(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BufferBudget = 2 << 20 })
	held := e.store.newPartBuf()
	if _, err := held.readFrom(context.Background(), bytes.NewReader(make([]byte, 2<<20)), 2<<20); err != nil {
		t.Fatal(err)
	}
	defer held.release()
	loc := e.create(1<<20, map[string]string{"filename": "clip.mp4"})
	res := e.patch(loc, 0, make([]byte, 1<<20), nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("over budget: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if off := e.offset(loc); off != 0 {
		t.Fatalf("offset %d", off)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Expiration = time.Second })
	loc := e.create(1000, map[string]string{"filename": "clip.mp4"})
	id := loc[strings.LastIndex(loc, "/")+1:]
	exp, ok := e.store.ExpiresOf(context.Background(), id)
	if !ok || time.Until(exp) > time.Second || time.Until(exp) < 0 {
		t.Fatalf("ExpiresOf = %v, %v", exp, ok)
	}
	time.Sleep(1100 * time.Millisecond)
	if res := e.do(http.MethodHead, loc, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of expired upload: %d", res.StatusCode)
	}
}

func TestCallerOwnershipAndCaps(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.CallerOf = func(ctx context.Context) (Caller, bool) {
			o, ok := ctx.Value(ownerKey{}).(string)
			switch o {
			case "capped":
				return Caller{Owner: o, MaxSize: 300 << 10, MediaTypes: []string{"video"},
					Fixed: Fixed{TemplateGroupID: "VOD_NO_TRANSCODE"}}, true
			}
			return Caller{Owner: o}, ok
		}
	})
	alice := map[string]string{"X-Test-Owner": "alice"}
	res := e.do(http.MethodPost, e.url, map[string]string{"X-Test-Owner": "alice", "Upload-Length": "200000",
		"Upload-Metadata": encodeMeta(map[string]string{"filename": "a.mp4"})}, nil)
	loc := res.Header.Get("Location")
	data := randomBytes(200000, 11)
	for _, tc := range []struct {
		name   string
		method string
		hdr    map[string]string
		want   int
	}{
		{"owner HEAD", http.MethodHead, alice, 200},
		{"other HEAD", http.MethodHead, map[string]string{"X-Test-Owner": "bob"}, 404},
		{"anonymous HEAD", http.MethodHead, nil, 404},
		{"other PATCH", http.MethodPatch, map[string]string{"X-Test-Owner": "bob", "Upload-Offset": "0"}, 404},
		{"other DELETE", http.MethodDelete, map[string]string{"X-Test-Owner": "bob"}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == http.MethodPatch {
				body = bytes.NewReader(data)
			}
			if got := e.do(tc.method, loc, tc.hdr, body).StatusCode; got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
	if res := e.patch(loc, 0, data, alice); res.StatusCode != http.StatusNoContent {
		t.Fatalf("owner PATCH: %d", res.StatusCode)
	}

	capped := map[string]string{"X-Test-Owner": "capped"}
	post := func(length string, meta map[string]string) *http.Response {
		h := map[string]string{"X-Test-Owner": "capped", "Upload-Metadata": encodeMeta(meta)}
		if length == "" {
			h["Upload-Defer-Length"] = "1"
		} else {
			h["Upload-Length"] = length
		}
		return e.do(http.MethodPost, e.url, h, nil)
	}
	if res := post("400000", map[string]string{"filename": "a.mp4"}); res.StatusCode != 413 {
		t.Fatalf("over cap at creation: %d", res.StatusCode)
	}
	if res := post("1000", map[string]string{"filename": "a.png", "type": "image"}); res.StatusCode != 403 {
		t.Fatalf("forbidden media type: %d", res.StatusCode)
	}
	res = post("", map[string]string{"filename": "a.mp4", "templateGroupId": "chosen"})
	if res.StatusCode != 201 {
		t.Fatalf("deferred create: %d", res.StatusCode)
	}
	loc = res.Header.Get("Location")
	big := randomBytes(400<<10, 12)
	if res := e.patch(loc, 0, big, capped); res.StatusCode != 413 {
		t.Fatalf("PATCH past the cap: %d", res.StatusCode)
	}
	if off := offsetAs(e, loc, capped); off > 300<<10 {
		t.Fatalf("offset %d past the cap", off)
	}
	var tg string
	for _, c := range e.vod.Calls() {
		if c.Action == "CreateUploadVideo" {
			tg = c.Params["TemplateGroupId"]
		}
	}
	if tg != "VOD_NO_TRANSCODE" {
		t.Fatalf("fixed template group not imposed: %q", tg)
	}
}

// A writer that reserved a part number and then lost its lock (paused past
// its TTL) may still upload that part to OSS when it wakes, but never over
// a part the new holder recorded, and it cannot record it.
func TestStaleWriterCannotOverwriteParts(t *testing.T) {
	fa := &fence{held: true, token: 5}
	e := newEnv(t, func(c *Config) { c.Fencer = fa })
	data := randomBytes(3<<20, 13)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	id := loc[strings.LastIndex(loc, "/")+1:]
	fa.key = "vodgate:{" + id + "}:fence"
	e.mr.Set(fa.key, "5")
	if res := e.patch(loc, 0, data[:1<<20], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("first PATCH: %d", res.StatusCode)
	}
	ctx := context.Background()
	ua, err := e.store.GetUpload(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	a := ua.(*upload)
	n := a.rec.nextPart() // A reserves its next part, then freezes
	if err := a.save(ctx, map[string][]byte{fieldNext: []byte(strconv.Itoa(n + 1))}, nil); err != nil {
		t.Fatal(err)
	}

	e.mr.Set(fa.key, "6") // B takes the lock
	cfgB := e.store.cfg
	cfgB.Fencer = &fence{held: true, token: 6, key: fa.key}
	storeB, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := storeB.GetUpload(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b := ub.(*upload)
	if got, err := b.WriteChunk(ctx, 1<<20, bytes.NewReader(data[1<<20:])); err != nil || got != 2<<20 {
		t.Fatalf("B WriteChunk = %d, %v", got, err)
	}

	// A wakes: its part lands in OSS under its reserved number...
	obj, err := a.object()
	if err != nil {
		t.Fatal(err)
	}
	junk := randomBytes(1<<20, 99)
	if _, _, _, err := obj.UploadPart(ctx, a.rec.info.OSSUploadID, n, bytes.NewReader(junk), int64(len(junk))); err != nil {
		t.Fatalf("stale part upload: %v", err)
	}
	// ...but it can neither record nor reserve anything more.
	buf := e.store.newPartBuf()
	defer buf.release()
	if err := buf.write(ctx, junk); err != nil {
		t.Fatal(err)
	}
	if err := a.commitPart(ctx, buf); !errors.Is(err, errLockLost) {
		t.Fatalf("stale commit: %v", err)
	}
	if err := b.FinishUpload(ctx); err != nil {
		t.Fatalf("B finish: %v", err)
	}
	e.checkObject(loc, data)
	for _, p := range b.rec.parts {
		if p.Number == n {
			t.Fatalf("B recorded part %d reserved by A", n)
		}
	}
}

// A length whose parts could not be double-buffered within the budget is
// refused at creation rather than failing mid-upload.
func TestLengthBeyondBufferBudget(t *testing.T) {
	e := newEnv(t, nil) // budget 64 MiB: parts of at most 32 MiB, 320,000 MiB in all
	meta := encodeMeta(map[string]string{"filename": "clip.mp4"})
	for _, tc := range []struct {
		length int64
		want   int
	}{
		{100 << 30, http.StatusCreated},
		{400 << 30, http.StatusRequestEntityTooLarge},
	} {
		res := e.do(http.MethodPost, e.url, map[string]string{"Upload-Length": strconv.FormatInt(tc.length, 10), "Upload-Metadata": meta}, nil)
		if res.StatusCode != tc.want {
			t.Fatalf("length %d: status %d, want %d", tc.length, res.StatusCode, tc.want)
		}
	}
	loc := e.create(-1, map[string]string{"filename": "clip.mp4"})
	res := e.patch(loc, 0, []byte("x"), map[string]string{"Upload-Length": strconv.FormatInt(400<<30, 10)})
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declaring 400 GiB: %d", res.StatusCode)
	}
}

// An OSS endpoint named localhost is addressed path-style (no bucket
// subdomain), as the SDK does by itself for IP literals.
func TestLocalhostEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.store.cfg.OSSEndpoint = strings.Replace(e.oss.URL(), "127.0.0.1", "localhost", 1)
	data := randomBytes(300<<10, 31)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH via localhost: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
}
