package osstest

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// blobStore hands out blobs: byte slices in memory mode, files under a
// private directory in Dir mode.
type blobStore struct {
	root string // "" in memory mode
	seq  atomic.Uint64
}

func newBlobStore(dir string) (*blobStore, error) {
	if dir == "" {
		return &blobStore{}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("osstest: create dir: %w", err)
	}
	root, err := os.MkdirTemp(dir, "osstest-")
	if err != nil {
		return nil, fmt.Errorf("osstest: create blob dir: %w", err)
	}
	return &blobStore{root: root}, nil
}

func (b *blobStore) memory() bool { return b.root == "" }

// create opens a new, empty blob file (Dir mode only).
func (b *blobStore) create() (*os.File, error) {
	name := filepath.Join(b.root, strconv.FormatUint(b.seq.Add(1), 10)+".blob")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("osstest: create blob: %w", err)
	}
	return f, nil
}

func (b *blobStore) close() {
	if b.root != "" {
		_ = os.RemoveAll(b.root)
	}
}

// blob is an immutable byte sequence: data in memory mode, a file in Dir mode.
type blob struct {
	data []byte
	path string
	size int64
}

// remove deletes the blob's file, if any. Readers that already opened it
// keep reading (POSIX unlink semantics).
func (b *blob) remove() {
	if b != nil && b.path != "" {
		_ = os.Remove(b.path)
	}
}

// copySegments writes n bytes starting at off of the concatenation of segs to w.
func copySegments(w io.Writer, segs []*blob, off, n int64) (int64, error) {
	var written int64
	for _, b := range segs {
		if n <= 0 {
			break
		}
		if off >= b.size {
			off -= b.size
			continue
		}
		m := min(b.size-off, n)
		var k int64
		var err error
		if b.path == "" {
			var k0 int
			k0, err = w.Write(b.data[off : off+m])
			k = int64(k0)
		} else {
			k, err = copyFile(w, b.path, off, m)
		}
		written += k
		if err != nil {
			return written, err
		}
		off, n = 0, n-m
	}
	return written, nil
}

func copyFile(w io.Writer, path string, off, n int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("osstest: open blob: %w", err)
	}
	defer f.Close()
	k, err := io.Copy(w, io.NewSectionReader(f, off, n))
	if err == nil && k < n {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

type objectKey struct{ bucket, key string }

// part is one uploaded part of a multipart upload.
type part struct {
	number   int
	size     int64
	md5      [16]byte
	crc      uint64
	modified time.Time
	blob     *blob
}

// etag is `"` + upper-case hex MD5 + `"`, as OSS returns for parts and simple objects.
func (p *part) etag() string { return quoteETag(p.md5[:]) }

func quoteETag(sum []byte) string { return `"` + strings.ToUpper(hex.EncodeToString(sum)) + `"` }

// normETag strips quotes and upper-cases, so `"abc"` and `ABC` compare equal.
func normETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, `"`), `"`)
	// The SDK marshals quotes as &#34;, which encoding/xml already decoded.
	return strings.ToUpper(s)
}

// upload is an open multipart upload.
type upload struct {
	id, bucket, key string
	initiated       time.Time
	contentType     string
	meta            http.Header
	parts           map[int]*part
}

func (u *upload) info() Upload {
	out := Upload{Bucket: u.bucket, Key: u.key, UploadID: u.id, Parts: len(u.parts), Initiated: u.initiated}
	for _, p := range u.parts {
		out.Bytes += p.size
	}
	return out
}

// object is a stored object: its bytes are the concatenation of segs.
type object struct {
	info        Object
	etag        string
	contentType string
	meta        http.Header
	modified    time.Time
	segs        []*blob
}

func (o *object) removeBlobs() {
	for _, b := range o.segs {
		b.remove()
	}
}

// userMeta copies the x-oss-meta-* headers.
func userMeta(h http.Header) http.Header {
	m := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-oss-meta-") {
			m[k] = append([]string(nil), v...)
		}
	}
	return m
}
