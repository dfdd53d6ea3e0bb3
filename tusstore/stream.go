package tusstore

import (
	"context"
	"errors"
	"io"
	"sync"
)

// streamChunk is how much a streamed part reads from the client before it
// publishes the bytes to the part upload.
const streamChunk = 256 << 10

// errStreamAborted reports that a part sent to OSS while it arrived was cut
// short by the end of the body; its bytes then go the usual way.
var errStreamAborted = errors.New("tusstore: body ended inside a streamed part")

type bodyLengthKey struct{}

// WithBodyLength returns ctx carrying the length of the request body (its
// Content-Length). WriteChunk then sends each part the body will fill to
// OSS while its bytes arrive, instead of after. Without it, parts are sent
// once complete.
func WithBodyLength(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, bodyLengthKey{}, n)
}

func bodyLength(ctx context.Context) (int64, bool) {
	n, ok := ctx.Value(bodyLengthKey{}).(int64)
	return n, ok && n > 0
}

// stream lets a part upload read a buffer while another goroutine fills
// it. The filler publishes what it wrote; the reader blocks for more.
type stream struct {
	size    int64 // the part's size, sent as Content-Length
	mu      sync.Mutex
	more    *sync.Cond
	blocks  []*[blockSize]byte // published blocks
	n       int64              // published bytes
	end     bool               // filling ended
	aborted bool               // ... before size bytes
	done    chan struct{}      // closed when filling ended
}

// startStream makes p readable while it fills up to size bytes.
func (p *partBuf) startStream(size int64) {
	st := &stream{size: size, done: make(chan struct{})}
	st.more = sync.NewCond(&st.mu)
	p.st = st
	p.publish()
}

// publish makes the bytes written so far readable by the part upload.
func (p *partBuf) publish() {
	if p.st == nil {
		return
	}
	p.st.mu.Lock()
	p.st.blocks, p.st.n = p.blocks, p.n
	p.st.mu.Unlock()
	p.st.more.Broadcast()
}

// endFill ends filling; a buffer short of its size aborts the upload.
func (p *partBuf) endFill() {
	st := p.st
	st.mu.Lock()
	st.blocks, st.n = p.blocks, p.n
	st.end, st.aborted = true, p.n < st.size
	st.mu.Unlock()
	st.more.Broadcast()
	close(st.done)
}

// streamReader reads a streamed buffer from the start, waiting for bytes.
type streamReader struct {
	st  *stream
	pos int64
}

func (r *streamReader) Read(b []byte) (int, error) {
	st := r.st
	st.mu.Lock()
	for r.pos >= st.n && !st.end {
		st.more.Wait()
	}
	n, blocks, aborted := st.n, st.blocks, st.aborted
	st.mu.Unlock()
	if r.pos >= n {
		if aborted {
			return 0, errStreamAborted
		}
		return 0, io.EOF
	}
	off := r.pos % blockSize
	end := min(int64(blockSize), n-(r.pos-off))
	m := copy(b, blocks[r.pos/blockSize][off:end])
	r.pos += int64(m)
	return m, nil
}
