package tusstore

import (
	"context"
	"net/http"
	"testing"
)

// temporaryErr is a state-store failure that may pass (Temporary), as
// internal/redisstate reports a Redis outage.
type temporaryErr struct{}

func (temporaryErr) Error() string   { return "state store unavailable" }
func (temporaryErr) Temporary() bool { return true }

// failingCreate answers Ping as told and fails every Create: the state
// store went away between the check and the write.
type failingCreate struct {
	Records
	pingErr error
}

func (f failingCreate) Ping(context.Context) error { return f.pingErr }
func (failingCreate) Create(context.Context, string, map[string][]byte) error {
	return temporaryErr{}
}

// Issue 12, defect 6: a creation whose record cannot be written leaves no
// VOD media behind, whether the state store is down before the VOD call
// (no media is created) or fails right after it (the media is deleted).
func TestCreationLeavesNoOrphanMedia(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pingErr     error
		wantCreates int
	}{
		{"down-before-vod", temporaryErr{}, 0},
		{"fails-after-vod", nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Records = failingCreate{Records: c.Records, pingErr: tc.pingErr} })
			for range 3 {
				resp := e.do(http.MethodPost, e.url, map[string]string{
					"Upload-Length": "10", "Upload-Metadata": encodeMeta(map[string]string{"filename": "a.mp4"}),
				}, nil)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("POST with the state store failing: %d, want 503", resp.StatusCode)
				}
			}
			if n := e.vod.CallCount("CreateUploadVideo"); n != tc.wantCreates {
				t.Errorf("CreateUploadVideo calls = %d, want %d", n, tc.wantCreates)
			}
			if m := e.vod.AllMedia(); len(m) != 0 {
				t.Errorf("%d media left behind, e.g. %+v", len(m), m[0])
			}
		})
	}
}
