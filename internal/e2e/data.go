package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Sizes used by the tests. OSS counts its 100 KB minimum part size in KiB.
const (
	KiB = 1 << 10
	MiB = 1 << 20
)

// source is a file of pseudo-random bytes to upload.
type source struct {
	Path   string
	Size   int64
	SHA256 string // hex
}

// makeSource writes size deterministic pseudo-random bytes (from seed) into
// a file under the test's temp dir.
func makeSource(t testing.TB, size int64, seed uint64) source {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src-"+strconv.FormatInt(size, 10)+"-"+strconv.FormatUint(seed, 10)+".bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := rand.NewChaCha8(key)
	if _, err := io.CopyN(w, rng, size); err != nil {
		t.Fatalf("write source: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return source{Path: p, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
}

// readRange returns size bytes of src from off.
func (s source) readRange(t testing.TB, off, size int64) []byte {
	t.Helper()
	f, err := os.Open(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("read %s at %d: %v", s.Path, off, err)
	}
	return b
}
