package tusstore

import (
	"hash/crc64"
	"testing"
)

func TestCRCMatchesStdlib(t *testing.T) {
	c := newCRCTable()
	std := crc64.MakeTable(crc64.ECMA)
	data := randomBytes(3<<20+13, 21)
	for _, n := range []int{0, 1, 7, 8, 9, 100, 4*crcStripe - 1, 4 * crcStripe, 4*crcStripe + 33, 1 << 20, len(data)} {
		for _, seed := range []uint64{0, 0xdeadbeef} {
			if got, want := c.update(seed, data[:n]), crc64.Update(seed, std, data[:n]); got != want {
				t.Fatalf("len %d seed %x: crc %x, want %x", n, seed, got, want)
			}
		}
	}
	// Chained updates equal one update.
	var crc uint64
	for off := 0; off < len(data); off += 300 << 10 {
		crc = c.update(crc, data[off:min(off+300<<10, len(data))])
	}
	if want := crc64.Checksum(data, std); crc != want {
		t.Fatalf("chained crc %x, want %x", crc, want)
	}
}

func BenchmarkCRC(b *testing.B) {
	data := randomBytes(1<<20, 22)
	c := newCRCTable()
	std := crc64.MakeTable(crc64.ECMA)
	b.Run("lanes", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			c.update(0, data)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			crc64.Update(0, std, data)
		}
	})
}
