package tusstore

import (
	"net/http"
	"strconv"
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
