package osstest

// CRC-64/ECMA-182 as OSS uses it (reflected, init and xorout all ones; Go's
// crc64.ECMA table). crcCombine joins the CRCs of two adjacent byte ranges
// without rereading them (the zlib crc32_combine method on 64-bit registers).
// crcKit.update is a faster hash for the hot path: slicing-by-8 over four
// independent lanes, joined with a precomputed "shift by one lane" operator.

import (
	"encoding/binary"
	"hash/crc64"
)

// crcPolyReflected is the ECMA-182 polynomial in reflected form (crc64.ECMA).
const crcPolyReflected = 0xC96C5795D7870F42

// crcLane is the lane length of crcKit.update; a block is four lanes.
const crcLane = 16 << 10

// gf2Matrix is a 64×64 matrix over GF(2); row i is the image of bit i.
type gf2Matrix [64]uint64

func (m *gf2Matrix) times(vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= m[i]
		}
	}
	return sum
}

func (m *gf2Matrix) square() *gf2Matrix { return m.then(m) }

// then returns the operator "m, then n".
func (m *gf2Matrix) then(n *gf2Matrix) *gf2Matrix {
	var out gf2Matrix
	for i := range m {
		out[i] = n.times(m[i])
	}
	return &out
}

// oneZeroByte is the operator that feeds one zero byte through a raw register.
func oneZeroByte() *gf2Matrix {
	var odd gf2Matrix // one zero bit
	odd[0] = crcPolyReflected
	for i := 1; i < 64; i++ {
		odd[i] = 1 << (i - 1)
	}
	return odd.square().square().square() // 2, 4, 8 bits
}

// zeroBytes is the operator that feeds n zero bytes through a raw register.
func zeroBytes(n int64) *gf2Matrix {
	var res gf2Matrix
	for i := range res {
		res[i] = 1 << i
	}
	out := &res
	for op := oneZeroByte(); n > 0; n, op = n>>1, op.square() {
		if n&1 != 0 {
			out = out.then(op)
		}
	}
	return out
}

// crcCombine returns the CRC of A||B given crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B).
func crcCombine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	return zeroBytes(len2).times(crc1) ^ crc2
}

// crcKit holds the tables of the fast CRC; build it once with newCRCKit.
type crcKit struct {
	s8    [8][256]uint64 // slicing-by-8; s8[0] is the byte-wise table
	shift [8][256]uint64 // byte-wise tables of zeroBytes(crcLane)
}

func newCRCKit() *crcKit {
	k := &crcKit{}
	k.s8[0] = *crc64.MakeTable(crc64.ECMA)
	for i := range 256 {
		c := k.s8[0][i]
		for j := 1; j < 8; j++ {
			c = k.s8[0][c&0xff] ^ c>>8
			k.s8[j][i] = c
		}
	}
	m := zeroBytes(crcLane)
	for b := range 8 {
		for v := range 256 {
			k.shift[b][v] = m.times(uint64(v) << (8 * b))
		}
	}
	return k
}

// update returns the CRC of the data whose CRC is crc followed by p
// (the same contract as crc64.Update with the ECMA table).
func (k *crcKit) update(crc uint64, p []byte) uint64 {
	r := ^crc
	for len(p) >= 4*crcLane {
		a, b, c, d := k.lanes(r, p[:4*crcLane])
		r = k.shiftLane(k.shiftLane(k.shiftLane(a)^b)^c) ^ d
		p = p[4*crcLane:]
	}
	return ^k.raw(r, p)
}

// lanes runs four independent raw registers over the four quarters of p;
// the first starts at r, the others at 0.
func (k *crcKit) lanes(r uint64, p []byte) (a, b, c, d uint64) {
	t := &k.s8
	p0, p1, p2, p3 := p[:crcLane], p[crcLane:2*crcLane], p[2*crcLane:3*crcLane], p[3*crcLane:4*crcLane]
	a = r
	for i := 0; i+8 <= crcLane; i += 8 {
		a ^= binary.LittleEndian.Uint64(p0[i:])
		b ^= binary.LittleEndian.Uint64(p1[i:])
		c ^= binary.LittleEndian.Uint64(p2[i:])
		d ^= binary.LittleEndian.Uint64(p3[i:])
		a = t[7][a&0xff] ^ t[6][a>>8&0xff] ^ t[5][a>>16&0xff] ^ t[4][a>>24&0xff] ^
			t[3][a>>32&0xff] ^ t[2][a>>40&0xff] ^ t[1][a>>48&0xff] ^ t[0][a>>56]
		b = t[7][b&0xff] ^ t[6][b>>8&0xff] ^ t[5][b>>16&0xff] ^ t[4][b>>24&0xff] ^
			t[3][b>>32&0xff] ^ t[2][b>>40&0xff] ^ t[1][b>>48&0xff] ^ t[0][b>>56]
		c = t[7][c&0xff] ^ t[6][c>>8&0xff] ^ t[5][c>>16&0xff] ^ t[4][c>>24&0xff] ^
			t[3][c>>32&0xff] ^ t[2][c>>40&0xff] ^ t[1][c>>48&0xff] ^ t[0][c>>56]
		d = t[7][d&0xff] ^ t[6][d>>8&0xff] ^ t[5][d>>16&0xff] ^ t[4][d>>24&0xff] ^
			t[3][d>>32&0xff] ^ t[2][d>>40&0xff] ^ t[1][d>>48&0xff] ^ t[0][d>>56]
	}
	return a, b, c, d
}

// shiftLane feeds crcLane zero bytes through raw register r.
func (k *crcKit) shiftLane(r uint64) uint64 {
	s := &k.shift
	return s[0][r&0xff] ^ s[1][r>>8&0xff] ^ s[2][r>>16&0xff] ^ s[3][r>>24&0xff] ^
		s[4][r>>32&0xff] ^ s[5][r>>40&0xff] ^ s[6][r>>48&0xff] ^ s[7][r>>56]
}

// raw runs a raw (not inverted) register over p, eight bytes at a time.
func (k *crcKit) raw(r uint64, p []byte) uint64 {
	t := &k.s8
	for ; len(p) >= 8; p = p[8:] {
		r ^= binary.LittleEndian.Uint64(p)
		r = t[7][r&0xff] ^ t[6][r>>8&0xff] ^ t[5][r>>16&0xff] ^ t[4][r>>24&0xff] ^
			t[3][r>>32&0xff] ^ t[2][r>>40&0xff] ^ t[1][r>>48&0xff] ^ t[0][r>>56]
	}
	for _, c := range p {
		r = t[0][byte(r)^c] ^ r>>8
	}
	return r
}
