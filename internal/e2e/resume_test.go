package e2e

import (
	"net/http"
	"testing"
	"time"
)

// longRetries outlast a gateway restart.
var longRetries = []int{0, 200, 500, 1000, 1000, 1000, 2000, 2000, 3000, 3000, 5000}

// TestCredentialsExpireMidUpload expires every upload credential in the
// simulator between two chunks; the upload must complete after exactly one
// RefreshUploadVideo.
func TestCredentialsExpireMidUpload(t *testing.T) {
	s := newStack(t, stackOptions{})
	src := makeSource(t, 24*MiB+777, 31)
	run := startTus(t, tusOptions{
		Endpoint:         s.GW.Endpoint(),
		File:             src.Path,
		ChunkSize:        5 * MiB,
		Metadata:         map[string]string{"filename": "expire.mp4"},
		PauseBeforePatch: []int{3},
	})
	ev := run.mustEvent("paused", 2*time.Minute)
	t.Logf("paused before PATCH %d at offset %d; expiring all credentials", ev.Patch, ev.Offset)
	if n := s.VOD.CallCount("RefreshUploadVideo"); n != 0 {
		t.Errorf("RefreshUploadVideo called %d times before the expiry", n)
	}
	s.VOD.ExpireAll()
	run.resume()
	res := run.wait(3 * time.Minute)
	requireOK(t, res)
	checkOffsetsMonotonic(t, res)
	s.checkUploaded(t, res.FinalMediaID, src)
	if n := s.VOD.CallCount("RefreshUploadVideo"); n != 1 {
		t.Errorf("RefreshUploadVideo called %d times, want exactly 1", n)
	}
}

// TestGatewaySIGKILLBetweenChunks kills the gateway with SIGKILL between two
// chunks and starts it again on the same port; the client retries, resumes
// from HEAD at the offset the last PATCH acknowledged, and completes.
func TestGatewaySIGKILLBetweenChunks(t *testing.T) {
	s := newStack(t, stackOptions{})
	src := makeSource(t, 24*MiB+4321, 37)
	run := startTus(t, tusOptions{
		Endpoint:         s.GW.Endpoint(),
		File:             src.Path,
		ChunkSize:        5 * MiB,
		Metadata:         map[string]string{"filename": "killed.mp4"},
		PauseBeforePatch: []int{3},
		RetryDelays:      longRetries,
	})
	ev := run.mustEvent("paused", 2*time.Minute)
	acked := ev.Offset
	t.Logf("paused before PATCH %d at offset %d; SIGKILL gateway pid %d", ev.Patch, acked, s.GW.PID())
	if acked != 10*MiB {
		t.Errorf("offset before PATCH 3 = %d, want %d", acked, 10*MiB)
	}
	s.GW.Kill()
	run.resume()
	if rt, ok := run.nextEvent("retry", 30*time.Second); ok {
		t.Logf("client retrying (attempt %d): %s", rt.Attempt, rt.Error)
	} else {
		t.Errorf("client saw no error while the gateway was down")
	}
	s.GW.Start()
	res := run.wait(3 * time.Minute)
	requireOK(t, res)
	checkOffsetsMonotonic(t, res)

	// The first HEAD after the restart must report what was acknowledged, and
	// the client must not have had to create a new upload.
	var sawHead bool
	posts := 0
	for _, rq := range res.Requests {
		if rq.Method == http.MethodPost {
			posts++
		}
		if rq.Method == http.MethodHead && !sawHead {
			sawHead = true
			if rq.Status != http.StatusOK || rq.Offset == nil || *rq.Offset != acked {
				t.Errorf("first HEAD after restart: status %d, Upload-Offset %v; want 200 at %d", rq.Status, rq.Offset, acked)
			}
		}
	}
	if !sawHead {
		t.Errorf("client did not resume from HEAD: %s", describeRequests(res.Requests))
	}
	if posts != 1 {
		t.Errorf("client created %d uploads, want 1 (the upload was lost with the process): %s", posts, describeRequests(res.Requests))
	}
	s.checkUploaded(t, res.FinalMediaID, src)
}
