package e2e

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentPatchesTwoInstances has two clients PATCH the same upload at
// once through two gateway processes, for 50 rounds: in each round both HEAD
// their instance and PATCH the next chunk from the offset they saw, so they
// race for the same bytes, and every other PATCH streams slowly so the
// competing request arrives mid-body (lock stealing across processes).
// Conflicts (409 offset mismatch, 423 lock lost, 400 interrupted) are
// expected; what must hold:
//   - no 5xx;
//   - no response reports an offset lower than one reported before the
//     request was sent;
//   - the byte ranges acknowledged by successful PATCHes never overlap (no
//     byte accepted twice);
//   - after the rounds, the upload completes and the object is
//     byte-identical to the source.
func TestConcurrentPatchesTwoInstances(t *testing.T) {
	s, a, b := newInstances(t, "256KiB", stackOptions{})
	defer logPartCalls(t, s)
	// At most 2 chunks of at most 360 KiB land per round, so 50 rounds
	// never reach the end: the last PATCH is made after them.
	src := makeSource(t, 40*MiB+999, 505)
	racePatches(t, s, a, b, src, 50)
}

// racePatches runs rounds of two clients racing PATCHes of one new upload
// of src through a and b (see TestConcurrentPatchesTwoInstances), finishes
// the upload, and checks the invariants and the object.
func racePatches(t *testing.T, s *stack, a, b *gatewayProc, src source, rounds int) {
	t.Helper()
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, a.Endpoint(), src.Size, map[string]string{"filename": "race.mp4"})
	urls := [2]string{onHost(t, uploadURL, a), onHost(t, uploadURL, b)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	var log obsLog

	round := func(c, r int, rng *rand.Rand) {
		h := doObs(ctx, hc, c, http.MethodHead, urls[c], 0, nil, 0)
		log.add(h)
		if h.Status != http.StatusOK || h.Offset >= src.Size {
			return
		}
		off := h.Offset
		n := min(int64(40*KiB+rng.IntN(320*KiB)), src.Size-off)
		var body io.Reader = bytes.NewReader(data[off : off+n])
		if (r+c)%2 == 0 {
			body = &slowReader{b: data[off : off+n], piece: 32 * KiB, pause: 2 * time.Millisecond}
		}
		log.add(doObs(ctx, hc, c, http.MethodPatch, urls[c], off, body, n))
	}
	start := time.Now()
	rngs := [2]*rand.Rand{rand.New(rand.NewPCG(1, 505)), rand.New(rand.NewPCG(2, 505))}
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		var wg sync.WaitGroup
		for c := range 2 {
			wg.Go(func() { round(c, r, rngs[c]) })
		}
		wg.Wait()
	}
	raced := time.Since(start)

	// One client finishes: HEAD on a, PATCH the rest on b (a few attempts).
	done := false
	for i := 0; i < 5 && !done && ctx.Err() == nil; i++ {
		h := doObs(ctx, hc, 0, http.MethodHead, urls[0], 0, nil, 0)
		log.add(h)
		if h.Status != http.StatusOK {
			continue
		}
		p := doObs(ctx, hc, 0, http.MethodPatch, urls[1], h.Offset, bytes.NewReader(data[h.Offset:]), src.Size-h.Offset)
		log.add(p)
		done = p.Status == http.StatusNoContent && p.Offset == src.Size
	}

	all := log.list()
	counts := statusCounts(all)
	t.Logf("%d rounds in %v; responses: %v", rounds, raced.Round(time.Millisecond), counts)
	for _, g := range []*gatewayProc{a, b} {
		t.Logf("%s: release requests sent %v, received %v, honoured %v; stale writes rejected %v", g.name,
			metric(t, g, "vodgate_locker_steals_requested_total"),
			metric(t, g, "vodgate_locker_release_requests_received_total"),
			metric(t, g, "vodgate_locker_steals_honoured_total"),
			metric(t, g, "vodgate_stale_writes_rejected_total"))
	}
	conflicts := 0
	for _, o := range all {
		switch {
		case o.Status >= 500:
			t.Errorf("server error: %s", o)
		case o.Method == http.MethodHead && o.Status != http.StatusOK:
			t.Errorf("HEAD answered %s", o)
		case o.Method == http.MethodPatch && o.Status == http.StatusNoContent:
		case o.Method == http.MethodPatch && (o.Status == http.StatusConflict || o.Status == http.StatusLocked || o.Status == 0 ||
			(o.Status == http.StatusBadRequest && strings.Contains(o.Code, "ERR_UPLOAD_INTERRUPTED"))):
			conflicts++
		case o.Method == http.MethodPatch:
			t.Errorf("PATCH answered %s", o)
		}
	}
	if conflicts == 0 {
		t.Errorf("no PATCH conflicted in %d rounds: the clients never raced", rounds)
	}
	checkRealTimeMonotonic(t, all)
	accepted := checkDisjointPatches(t, all)
	t.Logf("%d bytes acknowledged by 204 PATCHes, %d kept from interrupted ones", accepted, src.Size-accepted)
	if !done {
		t.Fatalf("upload not completed after the rounds; last responses: %v", all[max(0, len(all)-6):])
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}
