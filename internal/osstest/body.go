package osstest

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"time"
)

const (
	// maxPartSize is the OSS limit for a part and for a simple PutObject.
	maxPartSize = 5 << 30
	// hashChunk is how much is read before hashing, small enough to stay in cache.
	hashChunk = 256 << 10
)

// errIncompleteBody reports a body shorter than its Content-Length.
var errIncompleteBody = errors.New("osstest: request body shorter than Content-Length")

// received is a request body stored as a blob, with its digests.
type received struct {
	blob   *blob
	md5    [16]byte
	crc    uint64
	sha256 string // only when asked for
}

// digest hashes MD5, CRC-64/ECMA and optionally SHA-256 in one pass.
type digest struct {
	md5 hash.Hash
	sha hash.Hash
	crc *crcKit
	sum uint64
}

func (d *digest) write(p []byte) {
	d.md5.Write(p)
	d.sum = d.crc.update(d.sum, p)
	if d.sha != nil {
		d.sha.Write(p)
	}
}

// receiveBody streams body into a new blob while hashing it. length is the
// Content-Length, or -1 if unknown. No lock is held while reading.
func (s *Server) receiveBody(ctx context.Context, body io.Reader, length int64, withSHA bool, bps int64) (*received, error) {
	if bps > 0 {
		body = &throttledReader{ctx: ctx, r: body, bps: bps, start: time.Now()}
	}
	d := &digest{md5: md5.New(), crc: s.crc}
	if withSHA {
		d.sha = sha256.New()
	}
	var (
		b   *blob
		err error
	)
	if s.store.memory() {
		b, err = readToMemory(body, length, d)
	} else {
		b, err = s.readToFile(body, length, d)
	}
	if err != nil {
		return nil, err
	}
	rc := &received{blob: b, crc: d.sum}
	copy(rc.md5[:], d.md5.Sum(nil))
	if d.sha != nil {
		rc.sha256 = hex.EncodeToString(d.sha.Sum(nil))
	}
	return rc, nil
}

func readToMemory(body io.Reader, length int64, d *digest) (*blob, error) {
	if length >= 0 {
		buf := make([]byte, length)
		for off := int64(0); off < length; {
			end := min(off+hashChunk, length)
			n, err := io.ReadFull(body, buf[off:end])
			d.write(buf[off : off+int64(n)])
			off += int64(n)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errIncompleteBody, err)
			}
		}
		return &blob{data: buf, size: length}, nil
	}
	var buf []byte
	for {
		if len(buf) > maxPartSize {
			return nil, fmt.Errorf("osstest: chunked body over %d bytes", maxPartSize)
		}
		buf = slices.Grow(buf, hashChunk)
		n, err := io.ReadFull(body, buf[len(buf):len(buf)+hashChunk])
		d.write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return &blob{data: buf, size: int64(len(buf))}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("osstest: read body: %w", err)
		}
	}
}

func (s *Server) readToFile(body io.Reader, length int64, d *digest) (_ *blob, err error) {
	f, err := s.store.create()
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("osstest: close blob: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	buf := make([]byte, hashChunk)
	var size int64
	for length < 0 || size < length {
		want := int64(hashChunk)
		if length >= 0 {
			want = min(want, length-size)
		}
		n, rerr := io.ReadFull(body, buf[:want])
		d.write(buf[:n])
		if _, werr := f.Write(buf[:n]); werr != nil {
			return nil, fmt.Errorf("osstest: write blob: %w", werr)
		}
		size += int64(n)
		if length < 0 && (rerr == io.EOF || rerr == io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("%w: %w", errIncompleteBody, rerr)
		}
		if length < 0 && size > maxPartSize {
			return nil, fmt.Errorf("osstest: chunked body over %d bytes", maxPartSize)
		}
	}
	return &blob{path: f.Name(), size: size}, nil
}

// throttledReader limits reads to bps bytes per second (per request).
type throttledReader struct {
	ctx   context.Context
	r     io.Reader
	bps   int64
	start time.Time
	n     int64
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if limit := max(t.bps/20, 1); int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if werr := paceWait(t.ctx, t.start, t.n, t.bps); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// throttledWriter limits writes to bps bytes per second (per response).
type throttledWriter struct {
	ctx   context.Context
	w     io.Writer
	bps   int64
	start time.Time
	n     int64
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	var written int
	for len(p) > 0 {
		k := min(int64(len(p)), max(t.bps/20, 1))
		n, err := t.w.Write(p[:k])
		written += n
		t.n += int64(n)
		if err != nil {
			return written, err
		}
		if err := paceWait(t.ctx, t.start, t.n, t.bps); err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}

// paceWait sleeps until n bytes at bps bytes/s are due since start.
func paceWait(ctx context.Context, start time.Time, n, bps int64) error {
	due := start.Add(time.Duration(float64(n) / float64(bps) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("osstest: wait: %w", ctx.Err())
	}
}
