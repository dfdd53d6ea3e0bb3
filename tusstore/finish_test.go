package tusstore

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/osstest"
)

// A finish that fails after the last byte is durable is retried by the
// next HEAD or PATCH; until it succeeds no request reports the upload
// complete (tusd itself never calls FinishUpload again).
func TestFailedFinishIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		op    osstest.Op
		retry string // the request that finishes: HEAD or PATCH
	}{
		{"complete outage, HEAD", 3<<20 + 5, osstest.OpComplete, http.MethodHead},
		{"complete outage, PATCH at the end", 3<<20 + 5, osstest.OpComplete, http.MethodPatch},
		{"put outage (tail only), HEAD", 50 << 10, osstest.OpPut, http.MethodHead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.OSSAttempts = 2 })
			data := randomBytes(tc.size, 9)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			e.oss.FailNext(tc.op, 100, 503, "ServiceUnavailable")
			if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("PATCH during the outage: %d", res.StatusCode)
			}
			if res := e.do(http.MethodHead, loc, nil, nil); res.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("HEAD during the outage: %d, offset %q", res.StatusCode, res.Header.Get("Upload-Offset"))
			}
			e.oss.FailNext(tc.op, 0, 0, "")
			var res *http.Response
			if tc.retry == http.MethodHead {
				res = e.do(http.MethodHead, loc, nil, nil)
			} else {
				res = e.patch(loc, int64(len(data)), nil, nil)
			}
			if res.StatusCode/100 != 2 || res.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
				t.Fatalf("%s after the outage: %d, offset %q", tc.retry, res.StatusCode, res.Header.Get("Upload-Offset"))
			}
			e.checkObject(loc, data)
		})
	}
}

// A PutObject that fails for an upload whose bytes all arrived in one
// PATCH, too many for a tail, acknowledges none of them: the client sends
// them again once OSS is back.
func TestFailedWholePutIsNotAcknowledged(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OSSAttempts = 2 })
	data := randomBytes(300<<10, 10)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	e.oss.FailNext(osstest.OpPut, 100, 503, "ServiceUnavailable")
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("PATCH during the outage: %d", res.StatusCode)
	}
	if off := e.offset(loc); off != 0 {
		t.Fatalf("offset %d after the failed put, want 0", off)
	}
	e.oss.FailNext(osstest.OpPut, 0, 0, "")
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH after the outage: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	e.noOpenUploads()
}

// A request whose lock was taken over by a newer request of the same
// process keeps its own token, so its writes are rejected even though the
// process's Fencer now reports the newer, valid token.
func TestStaleRequestOfSameProcessIsFenced(t *testing.T) {
	f := &fence{held: true}
	e := newEnv(t, func(c *Config) { c.Fencer = f })
	data := randomBytes(2<<20, 10)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	id := loc[strings.LastIndex(loc, "/")+1:]
	f.key, f.token = "vodgate:{"+id+"}:fence", 5
	e.mr.Set(f.key, "5")
	ctx := context.Background()
	stale, err := e.store.GetUpload(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	f.token = 6 // a newer request of this process took the lock
	e.mr.Set(f.key, "6")
	if n, err := stale.WriteChunk(ctx, 0, bytes.NewReader(data[:1<<20])); err == nil || n != 0 {
		t.Fatalf("stale request wrote %d bytes, err %v", n, err)
	}
	if off := e.offset(loc); off != 0 {
		t.Fatalf("stale request moved offset to %d", off)
	}
	fresh, err := e.store.GetUpload(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fresh.WriteChunk(ctx, 0, bytes.NewReader(data[:1<<20])); err != nil || n != 1<<20 {
		t.Fatalf("current request wrote %d bytes, err %v", n, err)
	}
}
