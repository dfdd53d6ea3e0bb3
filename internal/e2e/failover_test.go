package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

// lockSlack is what a waiter may take beyond the lock TTL to notice that
// the key expired: the locker retries every 50ms, plus one HTTP round trip
// and scheduling on a loaded 2-core machine.
const lockSlack = 500 * time.Millisecond

// TestSIGKILLMidPatchResumesOnOtherInstance kills the instance that holds an
// upload's lock with SIGKILL while a PATCH streams into it; the client HEADs
// the other instance, which must answer within the lock TTL of the kill, and
// completes the upload there.
func TestSIGKILLMidPatchResumesOnOtherInstance(t *testing.T) {
	s, a, b := newInstances(t, "256KiB", stackOptions{})
	rdb := redisClient(t, s.env["VODGATE_REDIS_URL"])
	src := makeSource(t, 6*MiB+4321, 503)
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, a.Endpoint(), src.Size, map[string]string{"filename": "sigkill.mp4"})
	id := uploadID(uploadURL)

	// Stream 3 MiB + 100 KiB of a PATCH declaring the whole file into a.
	p := startPipedPatch(uploadURL, 0, src.Size)
	p.write(t, data[:3*MiB+100*KiB])
	// 8 parts of 256 KiB uploaded (and then recorded) while the body streams.
	if !waitFor(5*time.Second, func() bool { return s.OSS.CallCount(osstest.OpUploadPart) >= 8 }) {
		t.Fatalf("%s uploaded %d parts within 5s, want 8", a.name, s.OSS.CallCount(osstest.OpUploadPart))
	}
	if ttl := lockHeld(t, rdb, s.prefix, id); ttl == 0 {
		t.Fatalf("no lock key %s while the PATCH streams", lockKey(s.prefix, id))
	}
	killed := time.Now()
	a.Kill()
	t.Logf("SIGKILLed %s after %d body bytes", a.name, p.sent)
	// The client gives up on its PATCH (the Go transport would wait for the
	// rest of the body) and HEADs the other instance at once. tusd locks for
	// HEAD too: it waits until the dead holder's key expires.
	p.abort()
	head := doObs(context.Background(), nil, 1, http.MethodHead, onHost(t, uploadURL, b), 0, nil, 0)
	if o := p.wait(10 * time.Second); o.Status != 0 {
		t.Errorf("the PATCH to the killed instance got an answer: %s", o)
	}
	waited := head.End.Sub(killed)
	t.Logf("first HEAD on %s answered %s after %v (lock TTL %v)", b.name, head, waited.Round(time.Millisecond), testLockTTL)
	if head.Status != http.StatusOK {
		t.Fatalf("HEAD on %s after the kill: %s", b.name, head)
	}
	if waited > testLockTTL+lockSlack {
		t.Errorf("resume waited %v after the kill, more than the lock TTL %v (+%v slack)", waited, testLockTTL, lockSlack)
	}
	off := head.Offset
	if off < 2*MiB || off > p.sent {
		t.Errorf("HEAD offset %d: want the durable parts (>= 2 MiB) and at most the %d bytes sent", off, p.sent)
	}

	patch := doObs(context.Background(), nil, 1, http.MethodPatch, onHost(t, uploadURL, b), off,
		bytes.NewReader(data[off:]), src.Size-off)
	if patch.Status != http.StatusNoContent || patch.Offset != src.Size {
		t.Fatalf("final PATCH on %s: %s", b.name, patch)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}

// TestSIGSTOPHolderIsFenced freezes the instance holding an upload's lock
// (SIGSTOP) in the middle of a PATCH, past the lock TTL. Another client
// takes the upload over on the other instance and commits a part there;
// then the frozen instance resumes (SIGCONT) and tries to save what it had
// read: the fencing check must reject that stale write (counted in
// vodgate_stale_writes_rejected_total, logged as StaleWriteRejected), and the
// upload, finished through the other instance, must be byte-identical.
func TestSIGSTOPHolderIsFenced(t *testing.T) {
	s, a, b := newInstances(t, "1MiB", stackOptions{})
	rdb := redisClient(t, s.env["VODGATE_REDIS_URL"])
	src := makeSource(t, 3*MiB+777, 504)
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, a.Endpoint(), src.Size, map[string]string{"filename": "sigstop.mp4"})
	id := uploadID(uploadURL)
	var all obsLog
	defer logPartCalls(t, s)

	// Client 0 streams 600 KiB into a: less than a part, so a only buffers it.
	const held = 600 * KiB
	p := startPipedPatch(uploadURL, 0, src.Size)
	p.write(t, data[:held])
	time.Sleep(300 * time.Millisecond) // let a read it
	if ttl := lockHeld(t, rdb, s.prefix, id); ttl == 0 {
		t.Fatalf("no lock key while the PATCH streams into %s", a.name)
	}
	staleBefore := metric(t, a, "vodgate_stale_writes_rejected_total")
	lostBefore := metric(t, a, "vodgate_locker_lost_total")
	a.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	t.Logf("SIGSTOP %s holding the lock of %s with %d bytes read", a.name, id, p.sent)
	resumed := false
	defer func() {
		if !resumed {
			a.Signal(syscall.SIGCONT)
		}
	}()

	// Client 1 on b: its HEAD gets the lock once a's key expired.
	head := doObs(context.Background(), nil, 1, http.MethodHead, onHost(t, uploadURL, b), 0, nil, 0)
	all.add(head)
	t.Logf("HEAD on %s: %s after %v", b.name, head, head.End.Sub(stopped).Round(time.Millisecond))
	if head.Status != http.StatusOK || head.Offset != 0 {
		t.Fatalf("HEAD on %s while %s is frozen: %s; want 200 at 0", b.name, a.name, head)
	}
	if w := head.End.Sub(stopped); w > testLockTTL+lockSlack {
		t.Errorf("HEAD waited %v for the frozen holder, more than the lock TTL %v", w, testLockTTL)
	}
	// A 300 KiB PATCH: b commits it as part 1 (at least the 100 KiB minimum).
	const first = 300 * KiB
	p1 := doObs(context.Background(), nil, 1, http.MethodPatch, onHost(t, uploadURL, b), 0, bytes.NewReader(data[:first]), first)
	all.add(p1)
	if p1.Status != http.StatusNoContent || p1.Offset != first {
		t.Fatalf("PATCH on %s while %s is frozen: %s", b.name, a.name, p1)
	}
	if w := head.End.Sub(stopped); w < testLockTTL/2 {
		t.Fatalf("took over %v after the freeze, well before the TTL: the frozen holder's lock was not held", w)
	}

	// Thaw a: it finds its lock lost and tries to persist the 600 KiB it read.
	a.Signal(syscall.SIGCONT)
	resumed = true
	o := p.wait(15 * time.Second)
	all.add(o)
	t.Logf("the frozen PATCH, after SIGCONT: %s", o)
	if o.Status == http.StatusNoContent {
		t.Errorf("the stale holder's PATCH succeeded: %s", o)
	}
	if o.Status >= 500 {
		t.Errorf("the stale holder's PATCH got %s; want 423 (lock lost) or an interrupted request", o)
	}
	var stale, lost float64
	waitFor(5*time.Second, func() bool {
		stale = metric(t, a, "vodgate_stale_writes_rejected_total") - staleBefore
		lost = metric(t, a, "vodgate_locker_lost_total") - lostBefore
		return stale > 0
	})
	t.Logf("%s after SIGCONT: vodgate_stale_writes_rejected_total +%v, vodgate_locker_lost_total +%v", a.name, stale, lost)
	if stale == 0 {
		t.Errorf("%s: vodgate_stale_writes_rejected_total did not grow; the stale write was not fenced", a.name)
	}
	if lost == 0 {
		t.Errorf("%s: vodgate_locker_lost_total did not grow after the TTL passed frozen", a.name)
	}
	if !strings.Contains(a.log.String(), "StaleWriteRejected") {
		t.Errorf("%s logged no StaleWriteRejected", a.name)
	}

	// Client 1 completes the upload on b from what b says is durable.
	head2 := doObs(context.Background(), nil, 1, http.MethodHead, onHost(t, uploadURL, b), 0, nil, 0)
	all.add(head2)
	if head2.Status != http.StatusOK || head2.Offset != first {
		t.Fatalf("HEAD on %s after the thaw: %s; want 200 at %d (the stale holder must not move the offset)", b.name, head2, first)
	}
	last := doObs(context.Background(), nil, 1, http.MethodPatch, onHost(t, uploadURL, b), first,
		bytes.NewReader(data[first:]), src.Size-first)
	all.add(last)
	checkRealTimeMonotonic(t, all.list())
	if last.Status != http.StatusNoContent || last.Offset != src.Size {
		t.Fatalf("final PATCH on %s: %s", b.name, last)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}

// TestSIGSTOPMidPartUpload freezes the lock holder while it is sending a
// part to OSS (the simulator reads slowly), past the lock TTL. The other
// instance takes over and records its own part; when the frozen instance
// resumes, its part upload completes in OSS, but under a part number that
// no recorded part uses, and its record write is fenced off: the object
// must be byte-identical to the source.
func TestSIGSTOPMidPartUpload(t *testing.T) {
	s, a, b := newInstances(t, "1MiB", stackOptions{})
	rdb := redisClient(t, s.env["VODGATE_REDIS_URL"])
	src := makeSource(t, 3*MiB+555, 511)
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, a.Endpoint(), src.Size, map[string]string{"filename": "sigstop-part.mp4"})
	id := uploadID(uploadURL)
	defer logPartCalls(t, s)

	// a fills part 1 (1 MiB) and starts sending it to an OSS that reads at
	// 200 KiB/s; freeze a once it has reserved the part number.
	s.OSS.SetBandwidth(200 * KiB)
	p := startPipedPatch(uploadURL, 0, src.Size)
	p.write(t, data[:MiB+200*KiB])
	// Reading 1 MiB and starting the part takes a few ms; sending it, 5s.
	time.Sleep(700 * time.Millisecond)
	if ttl := lockHeld(t, rdb, s.prefix, id); ttl == 0 {
		t.Fatalf("no lock key while %s sends part 1", a.name)
	}
	staleBefore := metric(t, a, "vodgate_stale_writes_rejected_total")
	a.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	s.OSS.SetBandwidth(0)
	resumed := false
	defer func() {
		if !resumed {
			a.Signal(syscall.SIGCONT)
		}
	}()
	if n := s.OSS.CallCount(osstest.OpUploadPart); n != 0 {
		t.Fatalf("%d UploadPart calls finished before the freeze; want part 1 in flight", n)
	}

	var all obsLog
	head := doObs(context.Background(), nil, 1, http.MethodHead, onHost(t, uploadURL, b), 0, nil, 0)
	all.add(head)
	if head.Status != http.StatusOK || head.Offset != 0 {
		t.Fatalf("HEAD on %s while %s is frozen: %s; want 200 at 0", b.name, a.name, head)
	}
	t.Logf("HEAD on %s %v after the freeze: %s", b.name, head.End.Sub(stopped).Round(time.Millisecond), head)
	const first = 300 * KiB
	p1 := doObs(context.Background(), nil, 1, http.MethodPatch, onHost(t, uploadURL, b), 0, bytes.NewReader(data[:first]), first)
	all.add(p1)
	if p1.Status != http.StatusNoContent || p1.Offset != first {
		t.Fatalf("PATCH on %s while %s is frozen: %s", b.name, a.name, p1)
	}

	a.Signal(syscall.SIGCONT)
	resumed = true
	o := p.wait(30 * time.Second)
	all.add(o)
	t.Logf("the frozen PATCH, after SIGCONT: %s", o)
	if o.Status == http.StatusNoContent || o.Status >= 500 {
		t.Errorf("the stale holder's PATCH got %s; want 423 (lock lost) or an interrupted request", o)
	}
	// The stale part upload finishes in OSS (harmless: an unused number).
	waitFor(10*time.Second, func() bool { return s.OSS.CallCount(osstest.OpUploadPart) >= 2 })
	var stale float64
	waitFor(5*time.Second, func() bool {
		stale = metric(t, a, "vodgate_stale_writes_rejected_total") - staleBefore
		return stale > 0
	})
	if stale == 0 {
		t.Errorf("%s: vodgate_stale_writes_rejected_total did not grow", a.name)
	}

	head2 := doObs(context.Background(), nil, 1, http.MethodHead, onHost(t, uploadURL, b), 0, nil, 0)
	all.add(head2)
	if head2.Status != http.StatusOK || head2.Offset != first {
		t.Fatalf("HEAD on %s after the thaw: %s; want 200 at %d", b.name, head2, first)
	}
	last := doObs(context.Background(), nil, 1, http.MethodPatch, onHost(t, uploadURL, b), first,
		bytes.NewReader(data[first:]), src.Size-first)
	all.add(last)
	checkRealTimeMonotonic(t, all.list())
	if last.Status != http.StatusNoContent || last.Offset != src.Size {
		t.Fatalf("final PATCH on %s: %s", b.name, last)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
	var b2 strings.Builder
	for _, c := range s.OSS.Calls() {
		if c.Op == osstest.OpUploadPart {
			fmt.Fprintf(&b2, " #%d:%dB", c.PartNumber, c.Bytes)
		}
	}
	t.Logf("UploadPart calls (number:bytes, in completion order):%s", b2.String())
}
