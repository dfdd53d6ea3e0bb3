package tusstore

import (
	"encoding/binary"
	"hash/crc64"
)

// crcStripe is the length of each of the four stripes of a group hashed
// side by side. The stripes' chains of table lookups are independent, so
// the CPU overlaps them; they are joined with a precomputed "append
// crcStripe zero bytes" operator. This doubles the speed of hash/crc64,
// whose single chain was the gateway's largest CPU cost (bench/compare).
const crcStripe = 16 << 10

// crcTable computes CRC-64/ECMA-182 as OSS reports it in
// x-oss-hash-crc64ecma (hash/crc64 with crc64.ECMA: reflected, initial
// value and final XOR all ones). On CPUs with carry-less multiplication
// (amd64 PCLMULQDQ) it folds 128-byte groups in eight lanes, at memory
// speed; elsewhere, and for short inputs and remainders, it uses
// slicing-by-8 tables.
type crcTable struct {
	t     [8][256]uint64
	shift gf2Matrix // the register after crcStripe zero bytes, as a linear map
	clmul bool      // crcFold is available
	// fold holds x^n mod P (reflected) for the carry-less folds: n = 1087
	// and 1023 fold a 16-byte lane over 128 bytes (its first and second
	// word), n = 191 and 127 over 16 bytes. The exponents are one less
	// than the fold distance because a reflected carry-less product comes
	// out one bit short.
	fold [4]uint64
}

// crcFoldMin is the shortest input worth the carry-less fold's setup.
const crcFoldMin = 256

// xPow returns x^n mod P for the CRC polynomial P, reflected.
func xPow(n int) uint64 {
	r := uint64(1) << 63 // x^0
	for range n {
		if r&1 == 1 {
			r = r>>1 ^ crc64.ECMA
		} else {
			r >>= 1
		}
	}
	return r
}

// gf2Matrix is a linear map on 64-bit vectors over GF(2): column i is the
// image of bit i.
type gf2Matrix [64]uint64

func (m *gf2Matrix) apply(v uint64) uint64 {
	var r uint64
	for i := 0; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			r ^= m[i]
		}
	}
	return r
}

func (m *gf2Matrix) mul(n *gf2Matrix) gf2Matrix { // m·n
	var r gf2Matrix
	for i := range r {
		r[i] = m.apply(n[i])
	}
	return r
}

func newCRCTable() *crcTable {
	c := &crcTable{clmul: clmulAvailable(), fold: [4]uint64{xPow(1087), xPow(1023), xPow(191), xPow(127)}}
	for i := range 256 {
		crc := uint64(i)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ crc64.ECMA
			} else {
				crc >>= 1
			}
		}
		c.t[0][i] = crc
	}
	for i := range 256 {
		crc := c.t[0][i]
		for k := 1; k < 8; k++ {
			crc = c.t[0][crc&0xff] ^ crc>>8
			c.t[k][i] = crc
		}
	}
	// One zero byte maps the register r to t[0][byte(r)] ^ r>>8; raise that
	// map to the power crcStripe by squaring.
	var one gf2Matrix
	for i := range one {
		r := uint64(1) << i
		one[i] = c.t[0][byte(r)] ^ r>>8
	}
	for i := range c.shift {
		c.shift[i] = 1 << i // identity
	}
	for n, sq := crcStripe, one; n > 0; n >>= 1 {
		if n&1 != 0 {
			c.shift = c.shift.mul(&sq)
		}
		sq = sq.mul(&sq)
	}
	return c
}

// update returns the CRC of the bytes hashed into crc followed by p, like
// crc64.Update(crc, crc64.MakeTable(crc64.ECMA), p).
func (c *crcTable) update(crc uint64, p []byte) uint64 {
	if c.clmul && len(p) >= crcFoldMin {
		n := len(p) &^ 127
		lo, hi := crcFold(^crc, p[:n], &c.fold)
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], lo)
		binary.LittleEndian.PutUint64(b[8:], hi)
		return ^c.raw(c.raw(0, b[:]), p[n:])
	}
	r := ^crc
	t := &c.t
	for len(p) >= 4*crcStripe {
		p0, p1, p2, p3 := p[:crcStripe], p[crcStripe:2*crcStripe], p[2*crcStripe:3*crcStripe], p[3*crcStripe:4*crcStripe]
		c0, c1, c2, c3 := r, uint64(0), uint64(0), uint64(0)
		for len(p0) >= 8 && len(p1) >= 8 && len(p2) >= 8 && len(p3) >= 8 {
			v0 := c0 ^ binary.LittleEndian.Uint64(p0)
			v1 := c1 ^ binary.LittleEndian.Uint64(p1)
			v2 := c2 ^ binary.LittleEndian.Uint64(p2)
			v3 := c3 ^ binary.LittleEndian.Uint64(p3)
			c0 = t[7][byte(v0)] ^ t[6][byte(v0>>8)] ^ t[5][byte(v0>>16)] ^ t[4][byte(v0>>24)] ^
				t[3][byte(v0>>32)] ^ t[2][byte(v0>>40)] ^ t[1][byte(v0>>48)] ^ t[0][byte(v0>>56)]
			c1 = t[7][byte(v1)] ^ t[6][byte(v1>>8)] ^ t[5][byte(v1>>16)] ^ t[4][byte(v1>>24)] ^
				t[3][byte(v1>>32)] ^ t[2][byte(v1>>40)] ^ t[1][byte(v1>>48)] ^ t[0][byte(v1>>56)]
			c2 = t[7][byte(v2)] ^ t[6][byte(v2>>8)] ^ t[5][byte(v2>>16)] ^ t[4][byte(v2>>24)] ^
				t[3][byte(v2>>32)] ^ t[2][byte(v2>>40)] ^ t[1][byte(v2>>48)] ^ t[0][byte(v2>>56)]
			c3 = t[7][byte(v3)] ^ t[6][byte(v3>>8)] ^ t[5][byte(v3>>16)] ^ t[4][byte(v3>>24)] ^
				t[3][byte(v3>>32)] ^ t[2][byte(v3>>40)] ^ t[1][byte(v3>>48)] ^ t[0][byte(v3>>56)]
			p0, p1, p2, p3 = p0[8:], p1[8:], p2[8:], p3[8:]
		}
		// raw(r, ABCD) = S(S(S(raw(r,A)) ^ raw(0,B)) ^ raw(0,C)) ^ raw(0,D)
		r = c.shift.apply(c.shift.apply(c.shift.apply(c0)^c1)^c2) ^ c3
		p = p[4*crcStripe:]
	}
	return ^c.raw(r, p)
}

// raw runs the table over p on the inverted register value r.
func (c *crcTable) raw(r uint64, p []byte) uint64 {
	t := &c.t
	for len(p) >= 8 {
		v := r ^ binary.LittleEndian.Uint64(p)
		r = t[7][byte(v)] ^ t[6][byte(v>>8)] ^ t[5][byte(v>>16)] ^ t[4][byte(v>>24)] ^
			t[3][byte(v>>32)] ^ t[2][byte(v>>40)] ^ t[1][byte(v>>48)] ^ t[0][byte(v>>56)]
		p = p[8:]
	}
	for _, b := range p {
		r = t[0][byte(r)^b] ^ r>>8
	}
	return r
}

// crcCombine returns the CRC of A followed by B from crcA, crcB and len(B),
// like the OSS SDK's CRC64Combine but in O(log lenB) polynomial products
// instead of 64×64 matrix squarings: with this CRC's all-ones initial value
// and final XOR, crc(AB) = crcA·x^(8·lenB) ⊕ crcB (mod P).
func crcCombine(crcA, crcB, lenB uint64) uint64 {
	shift := uint64(1) << 63 // x^0
	for sq := xPow(8); lenB > 0; lenB, sq = lenB>>1, mulMod(sq, sq) {
		if lenB&1 != 0 {
			shift = mulMod(shift, sq)
		}
	}
	return mulMod(crcA, shift) ^ crcB
}

// mulMod returns a·b mod P for reflected polynomials (bit 63 is x^0).
func mulMod(a, b uint64) uint64 {
	var r uint64
	for d := 0; d < 64; d++ { // Horner from x^63 (bit 0) down to x^0
		if r&1 == 1 {
			r = r>>1 ^ crc64.ECMA
		} else {
			r >>= 1
		}
		if a>>d&1 == 1 {
			r ^= b
		}
	}
	return r
}
