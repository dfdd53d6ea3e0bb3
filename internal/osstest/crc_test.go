package osstest

import (
	"hash/crc64"
	"testing"
)

func TestCRCCombine(t *testing.T) {
	tab := crc64.MakeTable(crc64.ECMA)
	data := randBytes(70_001, 3)
	for _, cut := range []int{0, 1, 7, 8, 4096, 65_537, 70_000, 70_001} {
		a, b := data[:cut], data[cut:]
		got := crcCombine(crc64.Checksum(a, tab), crc64.Checksum(b, tab), int64(len(b)))
		if want := crc64.Checksum(data, tab); got != want {
			t.Errorf("cut %d: combined %d, want %d", cut, got, want)
		}
	}
	// The empty string: CRC 0, and combining from 0 gives the other CRC.
	if got := crcCombine(0, crc64.Checksum(data, tab), int64(len(data))); got != crc64.Checksum(data, tab) {
		t.Errorf("combine with empty prefix: %d", got)
	}
}

func TestCRCKitUpdate(t *testing.T) {
	k := newCRCKit()
	tab := crc64.MakeTable(crc64.ECMA)
	data := randBytes(5*4*crcLane+13, 9)
	for _, n := range []int{0, 1, 7, 8, 9, 4*crcLane - 1, 4 * crcLane, 4*crcLane + 1, len(data)} {
		if got, want := k.update(0, data[:n]), crc64.Checksum(data[:n], tab); got != want {
			t.Errorf("len %d: %d, want %d", n, got, want)
		}
	}
	// Chunked updates chain like crc64.Update.
	for _, chunk := range []int{1000, 4 * crcLane, 3*crcLane + 5} {
		var got uint64
		for p := data; len(p) > 0; {
			n := min(chunk, len(p))
			got, p = k.update(got, p[:n]), p[n:]
		}
		if want := crc64.Checksum(data, tab); got != want {
			t.Errorf("chunk %d: %d, want %d", chunk, got, want)
		}
	}
}

func BenchmarkCRCKit(b *testing.B) {
	k := newCRCKit()
	p := randBytes(256<<10, 1)
	b.SetBytes(int64(len(p)))
	var c uint64
	for b.Loop() {
		c = k.update(c, p)
	}
}

func BenchmarkCRCStdlib(b *testing.B) {
	tab := crc64.MakeTable(crc64.ECMA)
	p := randBytes(256<<10, 1)
	b.SetBytes(int64(len(p)))
	var c uint64
	for b.Loop() {
		c = crc64.Update(c, tab, p)
	}
}
