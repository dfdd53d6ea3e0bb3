package checksum

import (
	"bytes"
	"hash"
	"io"
	"testing"
)

// BenchmarkHashReader is the CPU a checked body costs: reading 8 MiB
// through the hashing reader with each algorithm, and with all of them (a
// checksum trailer, whose algorithm is known only after the body).
func BenchmarkHashReader(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	for _, alg := range append(append([]string(nil), Algorithms...), "all") {
		b.Run(alg, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 256<<10)
			for range b.N {
				hs := map[string]hash.Hash{}
				for _, a := range Algorithms {
					if alg == a || alg == "all" {
						hs[a] = newHash(a)
					}
				}
				h := &hashReader{body: io.NopCloser(bytes.NewReader(data)), hashes: hs}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{h}, buf); err != nil {
					b.Fatal(err)
				}
				if !h.ended() {
					b.Fatal("not ended")
				}
			}
		})
	}
}
