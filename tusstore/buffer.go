package tusstore

import (
	"fmt"
	"net/http"

	"context"
	"errors"
	"io"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// blockSize is the unit in which part buffers grow and are charged to the
// buffer budget.
const blockSize = 1 << 20

// errBusy reports that the buffer budget stayed exhausted.
var errBusy = errors.New("tusstore: buffer budget exhausted")

// budget is a counting semaphore of blocks shared by all uploads, so that
// load beyond it becomes 503 instead of memory growth.
// Its blocks come from an arena of exactly the budget (see arena).
type budget struct {
	slots chan struct{}
	arena *arena
	wait  time.Duration
}

func newBudget(bytes int64, wait time.Duration, prefault bool) *budget {
	n := bytes / blockSize
	if n < 2 {
		n = 2
	}
	return &budget{slots: make(chan struct{}, n), arena: newArena(int(n), prefault), wait: wait}
}

// get charges one block to the budget, waiting at most b.wait.
func (b *budget) get(ctx context.Context) (*[blockSize]byte, error) {
	select {
	case b.slots <- struct{}{}:
		return b.arena.take(), nil
	default:
	}
	t := time.NewTimer(b.wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return b.arena.take(), nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (b *budget) put(blk *[blockSize]byte) {
	b.arena.give(blk)
	<-b.slots
}

// room reports whether a request may take one more part buffer of size
// beyond the two it is sure of: the budget has room for it and for two
// more such buffers of other requests, and a quarter of the budget stays
// free for uploads that start meanwhile.
func (b *budget) room(size int64) bool {
	free := int64(cap(b.slots)-len(b.slots)) * blockSize
	return free >= 3*size && free-size >= int64(cap(b.slots))*blockSize/4
}

// inUse is the number of bytes currently charged.
func (b *budget) inUse() int64 { return int64(len(b.slots)) * blockSize }

// partBuf holds the bytes of one part in budget blocks, with their CRC-64.
// It is used by one goroutine at a time.
type partBuf struct {
	b      *budget
	table  *crcTable
	blocks []*[blockSize]byte
	n      int64
	crc    uint64
	st     *stream // set while the buffer is sent to OSS as it fills
	whole  bool    // the buffer is all of the upload, sent with one PutObject
	start  int64   // the upload offset of its first byte
	tailed bool    // it starts with the record's tail
}

func (s *Store) newPartBuf() *partBuf { return &partBuf{b: s.budget, table: s.crcTable} }

// readFrom reads from src until the buffer holds limit bytes, src ends
// (io.EOF is not returned) or fails. It returns the bytes read. A new
// block is charged to the budget only once bytes for it have arrived, so a
// body that ends on a block boundary holds no empty block.
func (p *partBuf) readFrom(ctx context.Context, src io.Reader, limit int64) (int64, error) {
	var total int64
	for p.n < limit {
		var m int
		var err error
		if p.n == int64(len(p.blocks))*blockSize { // all blocks full: probe first
			var probe [4 << 10]byte
			m, err = io.ReadFull(src, probe[:min(int64(len(probe)), limit-p.n)])
			if aerr := p.write(ctx, probe[:m]); aerr != nil {
				return total, aerr
			}
		} else {
			blk, off := p.blocks[len(p.blocks)-1], int(p.n%blockSize)
			want := min(int64(blockSize-off), limit-p.n)
			if p.st != nil {
				want = min(want, streamChunk)
			}
			m, err = io.ReadFull(src, blk[off:int64(off)+want])
			p.crc = p.table.update(p.crc, blk[off:off+m])
			p.n += int64(m)
		}
		total += int64(m)
		p.publish()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// write appends b, charging new blocks to the budget.
func (p *partBuf) write(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		blk, off, err := p.space(ctx)
		if err != nil {
			return err
		}
		n := copy(blk[off:], b)
		p.crc = p.table.update(p.crc, blk[off:off+n])
		p.n += int64(n)
		b = b[n:]
	}
	return nil
}

// space returns the block with free room and the offset into it.
func (p *partBuf) space(ctx context.Context) (*[blockSize]byte, int, error) {
	off := int(p.n % blockSize)
	if off == 0 && int64(len(p.blocks))*blockSize == p.n {
		blk, err := p.b.get(ctx)
		if err != nil {
			return nil, 0, err
		}
		p.blocks = append(p.blocks, blk)
	}
	return p.blocks[len(p.blocks)-1], off, nil
}

// reader returns a fresh reader over the buffered bytes; while the buffer
// streams, it waits for bytes still to come.
func (p *partBuf) reader() io.Reader {
	if p.st != nil {
		return &streamReader{st: p.st}
	}
	return &bufReader{p: p}
}

// size is the part size to send: the stream's while streaming.
func (p *partBuf) size() int64 {
	if p.st != nil {
		return p.st.size
	}
	return p.n
}

// bytes copies the buffered bytes (used for small tails).
func (p *partBuf) bytes() []byte {
	out := make([]byte, 0, p.n)
	for i, blk := range p.blocks {
		end := int64(blockSize)
		if rest := p.n - int64(i)*blockSize; rest < end {
			end = rest
		}
		out = append(out, blk[:end]...)
	}
	return out
}

// release returns the blocks to the budget. The buffer is empty after.
func (p *partBuf) release() {
	for _, blk := range p.blocks {
		p.b.put(blk)
	}
	p.blocks, p.n, p.crc, p.st, p.whole, p.start, p.tailed = nil, 0, 0, nil, false, 0, false
}

// wholeBody is the buffer as the body of a PutObject; while the buffer
// streams, its readers wait for bytes still to come.
func (p *partBuf) wholeBody() putBody {
	b := putBody{size: p.size(), open: p.reader, crc: func() uint64 { return p.crc }}
	if st := p.st; st != nil {
		b.cut = func() bool { <-st.done; return st.aborted }
	}
	return b
}

type bufReader struct {
	p   *partBuf
	pos int64
}

func (r *bufReader) Read(b []byte) (int, error) {
	if r.pos >= r.p.n {
		return 0, io.EOF
	}
	blk := r.p.blocks[r.pos/blockSize]
	off := r.pos % blockSize
	end := int64(blockSize)
	if rest := r.p.n - (r.pos - off); rest < end {
		end = rest
	}
	m := copy(b, blk[off:end])
	r.pos += int64(m)
	return m, nil
}

// MaxLength is the longest upload the store accepts: Config.MaxSize, or
// less when the buffer budget cannot double-buffer the parts that length
// needs (see checkPartBudget).
func (s *Store) MaxLength() int64 {
	perPart := s.cfg.BufferBudget / 2 / blockSize * blockSize
	return min(s.cfg.MaxSize, int64(MaxParts)*min(perPart, MaxPartSize))
}

// checkPartBudget refuses a length whose parts (sized so it fits in 10,000
// of them) could not be double-buffered within the buffer budget, which
// would otherwise fail mid-upload.
func (s *Store) checkPartBudget(length int64) error {
	ps := s.partSizeFor(length, false, 0, 0)
	if 2*ps <= s.cfg.BufferBudget {
		return nil
	}
	return handler.NewError(handler.ErrMaxSizeExceeded.ErrorCode, fmt.Sprintf(
		"upload length %d needs OSS parts of %d MiB, and buffer-budget %d MiB holds two parts of at most %d MiB",
		length, ps>>20, s.cfg.BufferBudget>>20, s.cfg.BufferBudget>>21), http.StatusRequestEntityTooLarge)
}
