package tusstore

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestRequestHoldsAtMostTwoParts checks the pipeline's bound while OSS is
// slower than the client: one part uploading and one filling, whether
// parts stream (Content-Length known) or are sent once full (chunked
// body). A third buffer would exceed what checkPartBudget reserves.
func TestRequestHoldsAtMostTwoParts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunked bool
	}{
		{"streamed parts", false},
		{"chunked body", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil) // 1 MiB parts of one block each
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
			if got, want := peak.Load(), int64(2*blockSize); got > want {
				t.Fatalf("peak buffer use %d bytes, want at most %d (two parts)", got, want)
			}
			if peak.Load() < 2*blockSize {
				t.Fatalf("peak buffer use %d bytes: the next part was not read while one uploaded", peak.Load())
			}
			e.checkObject(loc, data)
		})
	}
}
