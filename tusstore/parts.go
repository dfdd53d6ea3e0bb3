package tusstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pipeline uploads a request's parts on its own goroutines: full parts,
// and streamed parts while WriteChunk still fills them. Part numbers are
// reserved in order, one at a time, before a part is sent; at most
// Config.OSSParallelParts parts are in flight to OSS at once (a streamed
// part waits for one to end before it is sent), each recorded as soon as
// OSS acknowledged it (see recordPart), in whatever order that is. The
// record counts only the prefix without a gap.
//
// A request holds one part buffer per part in flight plus the one it
// fills. It is always allowed two (the two that checkPartBudget reserves),
// so the client's bytes keep flowing while a part's upload ends; more only
// while the buffer budget has room (budget.room), else it waits for one of
// its own to be released, so a short budget means fewer parts in flight,
// never a deadlock. The pipeline releases each buffer once both it and the
// filler are done with it, except a streamed buffer cut short, which
// WriteChunk keeps as the remainder.
type pipeline struct {
	in     chan *partBuf
	slots  chan struct{} // one per part buffer of the request
	sends  chan struct{} // one per part in flight
	freed  chan struct{} // a slot was freed
	done   chan struct{}
	group  sync.WaitGroup // the parts in flight
	failed atomic.Bool
	mu     sync.Mutex
	err    error // the first failure
}

func (u *upload) startPipeline(ctx context.Context) *pipeline {
	n := max(u.s.cfg.OSSParallelParts, 1)
	p := &pipeline{in: make(chan *partBuf, 1), slots: make(chan struct{}, n+1), sends: make(chan struct{}, n),
		freed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for buf := range p.in {
			if p.failed.Load() {
				p.let(buf)
				continue
			}
			if buf.whole {
				p.fail(u.putWhole(ctx, buf.wholeBody()))
				p.let(buf)
				continue
			}
			p.sends <- struct{}{} // wait for a part in flight to end
			n, err := u.reservePart(ctx)
			if err != nil {
				<-p.sends
				p.fail(err)
				p.let(buf)
				continue
			}
			p.group.Add(1)
			go func() {
				defer p.group.Done()
				pt, err := u.sendPart(ctx, n, buf)
				tailed := buf.tailed
				<-p.sends  // the part is no longer in flight to OSS
				p.let(buf) // acknowledged or failed: recording needs no bytes
				if err == nil {
					err = u.recordPart(ctx, pt, tailed)
				}
				p.fail(err)
			}()
		}
		p.group.Wait()
	}()
	return p
}

// fail notes err, the first one wins; a streamed part cut short is not a
// failure (WriteChunk persists it).
func (p *pipeline) fail(err error) {
	if err == nil || errors.Is(err, errStreamAborted) {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.failed.Store(true)
}

// let releases buf once the filler is done with it, and its slot.
func (p *pipeline) let(buf *partBuf) {
	if st := buf.st; st != nil {
		<-st.done // the filler is done with it
		if st.aborted {
			return // WriteChunk keeps it as the remainder
		}
	}
	buf.release()
	<-p.slots
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// next returns an empty part buffer for the part of size bytes that
// starts at byte start: at once while the request holds fewer than two,
// or fewer than its parallel parts plus one and the budget has room;
// otherwise once the pipeline released one.
func (p *pipeline) next(s *Store, size, start int64) *partBuf {
	for {
		if n := len(p.slots); n < 2 || (n < cap(p.slots) && s.budget.room(size)) {
			p.slots <- struct{}{} // only next adds, so this does not block
			buf := s.newPartBuf()
			buf.start = start
			return buf
		}
		<-p.freed
	}
}

// wait closes the pipeline, waits for the parts in flight and returns the
// first error.
func (p *pipeline) wait() error {
	close(p.in)
	<-p.done
	return p.err
}

// commitPart reserves the next part number, uploads buf as that part and
// records it, consuming the tail (which buf then starts with). Nothing
// else is in flight. Reserving first means a writer that lost its lock
// fails before it touches OSS, or uploads a number nobody else will use.
// The first part of an upload also initiates its OSS multipart upload
// (see initiate).
func (u *upload) commitPart(ctx context.Context, buf *partBuf) error {
	buf.start, buf.tailed = u.rec.partBytes(), len(u.rec.tail) > 0
	n, err := u.reservePart(ctx)
	if err != nil {
		return err
	}
	pt, err := u.sendPart(ctx, n, buf)
	if err != nil {
		return err
	}
	return u.recordPart(ctx, pt, buf.tailed)
}

// reservePart reserves the next part number with a fenced write, in the
// same write that records a new OSS uploadId for the upload's first part.
func (u *upload) reservePart(ctx context.Context) (int, error) {
	u.mu.Lock()
	n := u.rec.nextPart()
	initiated := u.rec.info.OSSUploadID != ""
	if n >= u.partLimit() {
		u.mu.Unlock()
		return 0, fmt.Errorf("tusstore: upload %s used all its part numbers (below %d): %w", u.id, u.partLimit(), errTooLarge)
	}
	reserve := map[string][]byte{fieldNext: []byte(strconv.Itoa(n + 1))}
	if initiated {
		err := u.save(ctx, reserve, nil)
		if err == nil {
			u.rec.next = n + 1
		}
		u.mu.Unlock()
		return n, err
	}
	u.mu.Unlock()
	// The first part: no other part is in flight.
	if err := u.initiate(ctx, reserve); err != nil {
		return 0, err
	}
	u.rec.next = n + 1
	return n, nil
}

// sendPart uploads buf as part n and checks the CRC-64 OSS reports
// against the bytes sent. Several may run at once.
func (u *upload) sendPart(ctx context.Context, n int, buf *partBuf) (part, error) {
	u.mu.Lock()
	id := u.rec.info.OSSUploadID
	u.mu.Unlock()
	began := time.Now()
	var pt part
	err := u.withRetry(ctx, func(o object) error {
		etag, crc, ok, err := o.UploadPart(ctx, id, n, buf.reader(), buf.size())
		if err != nil {
			if st := buf.st; st != nil {
				if <-st.done; st.aborted {
					return errStreamAborted
				}
			}
			return err
		}
		if ok && crc != buf.crc {
			return fmt.Errorf("tusstore: part %d: oss crc64 %d, sent %d: %w", n, crc, buf.crc, errCorrupt)
		}
		pt = part{Number: n, ETag: etag, Size: buf.n, CRC: buf.crc, Start: buf.start}
		return nil
	})
	if err != nil {
		return part{}, err
	}
	u.s.metrics.partSeconds.Observe(time.Since(began).Seconds())
	return pt, nil
}

// recordPart records pt, a part OSS acknowledged, with one fenced write;
// it is the one place where a part becomes durable. tailed says the part
// starts with the record's tail, which the same write deletes. Parts in
// flight call it in the order OSS acknowledges them: a part beyond a gap
// is recorded but counts only once the gap is filled (see record.addPart),
// so the durable offset in info is always the prefix's. Fields of parts
// dropped at load (beyond a gap no writer will fill) are deleted here.
//
// A check that must hold back a body's parts until the body is verified
// belongs here: recording nothing of a body until it passes keeps its
// parts out of the prefix, and they are simply not counted if it fails.
// The pipeline releases a part's buffer before it records the part, so
// parts waiting here hold no buffer and the body can still be read to
// its end (the pipeline's wait returns once they are recorded or not).
func (u *upload) recordPart(ctx context.Context, pt part, tailed bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	del := append([]string(nil), u.rec.dropped...)
	if tailed && len(u.rec.tail) > 0 {
		del = append(del, fieldTail)
	}
	set := pt.fields()
	set[fieldInfo] = u.touch(u.rec.offsetWith(pt, tailed))
	if err := u.saveBody(ctx, set, del); err != nil {
		return err
	}
	u.rec.addPart(pt)
	if tailed {
		u.rec.tail = nil
	}
	u.rec.dropped = nil
	if u.s.log.Enabled(ctx, -4) {
		u.s.log.DebugContext(ctx, "PartUploaded", "id", u.id, "part", pt.Number, "bytes", pt.Size, "start", pt.Start, "durable", u.rec.offset())
	}
	return nil
}
