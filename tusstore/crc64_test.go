package tusstore

import (
	"hash/crc64"
	"testing"
)

// crcModes are the table's code paths this CPU can run.
func crcModes(t testing.TB) map[string]*crcTable {
	tables := map[string]*crcTable{"tables": newCRCTable()}
	tables["tables"].clmul = false
	if clmulAvailable() {
		tables["clmul"] = newCRCTable()
	} else {
		t.Log("no carry-less multiplication on this CPU; testing the table path only")
	}
	return tables
}

func TestCRCMatchesStdlib(t *testing.T) {
	std := crc64.MakeTable(crc64.ECMA)
	data := randomBytes(3<<20+13, 21)
	lengths := []int{0, 1, 7, 8, 9, 100, 127, 128, 129, 255, 256, 257, 383, 384, 1000, 4095,
		4*crcStripe - 1, 4 * crcStripe, 4*crcStripe + 33, 1 << 20, len(data) - 3}
	for name, c := range crcModes(t) {
		t.Run(name, func(t *testing.T) {
			for _, n := range lengths {
				for _, off := range []int{0, 1, 3} { // unaligned starts too
					for _, seed := range []uint64{0, 0xdeadbeef, ^uint64(0)} {
						p := data[off : off+n]
						if got, want := c.update(seed, p), crc64.Update(seed, std, p); got != want {
							t.Fatalf("len %d offset %d seed %x: crc %x, want %x", n, off, seed, got, want)
						}
					}
				}
			}
			// Chained updates of odd sizes equal one update.
			var crc uint64
			for off, step := 0, 1; off < len(data); off, step = off+step, step*3+1 {
				crc = c.update(crc, data[off:min(off+step, len(data))])
			}
			if want := crc64.Checksum(data, std); crc != want {
				t.Fatalf("chained crc %x, want %x", crc, want)
			}
		})
	}
}

func BenchmarkCRC(b *testing.B) {
	data := randomBytes(1<<20, 22)
	std := crc64.MakeTable(crc64.ECMA)
	for name, c := range crcModes(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c.update(0, data)
			}
		})
	}
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			crc64.Update(0, std, data)
		}
	})
}

func TestCRCCombine(t *testing.T) {
	std := crc64.MakeTable(crc64.ECMA)
	data := randomBytes(1<<20+77, 23)
	for _, cut := range []int{0, 1, 8, 100, 4096, 1 << 19, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		got := crcCombine(crc64.Checksum(a, std), crc64.Checksum(b, std), uint64(len(b)))
		if want := crc64.Checksum(data, std); got != want {
			t.Fatalf("cut %d: combined %x, want %x", cut, got, want)
		}
	}
}
