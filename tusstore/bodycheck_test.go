package tusstore

import (
	"net/http"
	"slices"
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/osstest"
)

// testCheck is the body check X-Test-Check asks for: "pass" or "fail"
// (460, as internal/checksum answers a mismatch).
func testCheck(v string) func() error {
	return func() error {
		if v == "pass" {
			return nil
		}
		return handler.NewError("ERR_CHECKSUM_MISMATCH", "test mismatch", 460)
	}
}

// TestBodyCheckHoldsWrites: a checked PATCH that fails commits none of its
// bytes though its parts reached OSS: the offset, the tail the PATCH before
// left and the record stay as they were, and Complete lists none of its
// parts; one that passes is recorded like an unchecked one; one whose OSS
// parts fail keeps nothing either (an unchecked one keeps its durable
// parts).
func TestBodyCheckHoldsWrites(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OSSAttempts = 1 })
	data := randomBytes(5<<20+300<<10, 17)
	loc := e.create(int64(len(data)), map[string]string{"filename": "checked.mp4"})
	first := int64(1<<20 + 50<<10) // one part and a 50 KiB tail
	if res := e.patch(loc, 0, data[:first], map[string]string{"X-Test-Check": "pass"}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("checked PATCH that passes: %d", res.StatusCode)
	}
	if off := e.offset(loc); off != first {
		t.Fatalf("offset %d, want %d", off, first)
	}

	before := len(e.oss.Calls())
	if res := e.patch(loc, first, data[first:], map[string]string{"X-Test-Check": "fail"}); res.StatusCode != 460 {
		t.Fatalf("checked PATCH that fails: %d, want 460", res.StatusCode)
	}
	if off := e.offset(loc); off != first {
		t.Fatalf("offset %d after a failed check, want %d", off, first)
	}
	var wasted []int
	for _, c := range e.oss.Calls()[before:] {
		if c.Op == osstest.OpUploadPart && c.Status == http.StatusOK {
			wasted = append(wasted, c.PartNumber)
		}
	}
	if len(wasted) < 3 {
		t.Fatalf("parts %v reached OSS during the failed PATCH; want several", wasted)
	}

	// An OSS failure mid-body: nothing of the checked body is kept.
	e.oss.FailNext(osstest.OpUploadPart, 1, 503, "ServiceUnavailable")
	if res := e.patch(loc, first, data[first:], map[string]string{"X-Test-Check": "pass"}); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("checked PATCH during an OSS failure: %d, want 503", res.StatusCode)
	}
	if off := e.offset(loc); off != first {
		t.Fatalf("offset %d after a checked PATCH failed in OSS, want %d", off, first)
	}

	if res := e.patch(loc, first, data[first:], map[string]string{"X-Test-Check": "pass"}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("resent PATCH: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	calls := e.oss.Calls()
	var listed []int
	for _, c := range calls[before:] {
		if c.Op == osstest.OpComplete && c.Status == http.StatusOK {
			listed = c.Parts
		}
	}
	for _, n := range wasted {
		if slices.Contains(listed, n) {
			t.Fatalf("Complete listed part %d of the failed PATCH (listed %v, failed PATCH's %v)", n, listed, wasted)
		}
	}
}

// TestBodyCheckWholeUpload: an upload sent whole in one checked PATCH is
// put only after the check; a failed check puts nothing.
func TestBodyCheckWholeUpload(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(600<<10, 18)
	loc := e.create(int64(len(data)), map[string]string{"filename": "whole.mp4"})
	if res := e.patch(loc, 0, data, map[string]string{"X-Test-Check": "fail"}); res.StatusCode != 460 {
		t.Fatalf("checked PATCH that fails: %d, want 460", res.StatusCode)
	}
	if n := e.oss.CallCount(osstest.OpPut); n != 0 || e.offset(loc) != 0 {
		t.Fatalf("after a failed check: %d PutObject, offset %d; want none and 0", n, e.offset(loc))
	}
	if res := e.patch(loc, 0, data, map[string]string{"X-Test-Check": "pass"}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("checked PATCH that passes: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
}
