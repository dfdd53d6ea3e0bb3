package tusstore

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestRequestHoldsAtMostParallelPartsPlusOne checks the pipeline's bound
// while OSS is slower than the client: OSSParallelParts parts uploading
// and one filling, whether parts stream (Content-Length known) or are
// sent once full (chunked body); and that a budget without room for more
// than two buffers falls back to one part uploading and one filling (what
// checkPartBudget reserves) instead of failing.
func TestRequestHoldsAtMostParallelPartsPlusOne(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunked  bool
		parallel int
		budget   int64
		want     int64 // peak blocks (1 MiB parts)
	}{
		{"streamed parts, one in flight", false, 1, 64 << 20, 2},
		{"chunked body, one in flight", true, 1, 64 << 20, 2},
		{"streamed parts, four in flight", false, 4, 64 << 20, 5},
		{"chunked body, four in flight", true, 4, 64 << 20, 5},
		{"short budget falls back to two", false, 4, 4 << 20, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.OSSParallelParts, c.BufferBudget = tc.parallel, tc.budget }) // 1 MiB parts of one block each
			e.oss.SetBandwidth(8 << 20)
			data := randomBytes(6<<20, 5)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})

			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if n := e.store.budget.inUse(); n > peak.Load() {
						peak.Store(n)
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}()
			var body io.Reader = bytes.NewReader(data)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPatch, loc, body)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			res, err := http.DefaultClient.Do(req)
			close(stop)
			<-sampled
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH: %d", res.StatusCode)
			}
			if got, want := peak.Load(), tc.want*blockSize; got != want {
				t.Fatalf("peak buffer use %d bytes, want %d (%d parts)", got, want, tc.want)
			}
			e.checkObject(loc, data)
		})
	}
}

// TestParallelPartsShareOneRefresh: when OSS rejects the expired
// credential of several parts in flight at once, one of them refreshes it
// and the others use the new one: one RefreshUploadVideo, and the object
// is whole.
func TestParallelPartsShareOneRefresh(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OSSParallelParts = 4 })
	e.oss.SetLatency(20 * time.Millisecond) // parts overlap
	data := randomBytes(8<<20+5, 8)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	if res := e.patch(loc, 0, data[:1<<20], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("first PATCH: %d", res.StatusCode)
	}
	e.vod.ExpireAll()
	if res := e.patch(loc, 1<<20, data[1<<20:], nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH after expiry: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	if n := e.vod.CallCount("RefreshUploadVideo"); n != 1 {
		t.Fatalf("RefreshUploadVideo called %d times, want 1", n)
	}
}
