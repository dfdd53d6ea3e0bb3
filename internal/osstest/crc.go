package osstest

// CRC-64/ECMA-182 as OSS uses it (reflected, init and xorout all ones; Go's
// crc64.ECMA table). crcCombine joins the CRCs of two adjacent byte ranges
// without rereading them, the zlib crc32_combine method on 64-bit registers.

// crcPolyReflected is the ECMA-182 polynomial in reflected form (crc64.ECMA).
const crcPolyReflected = 0xC96C5795D7870F42

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

func (m *gf2Matrix) square() *gf2Matrix {
	var sq gf2Matrix
	for i := range m {
		sq[i] = m.times(m[i])
	}
	return &sq
}

// crcCombine returns the CRC of A||B given crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B).
func crcCombine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	// odd: the operator for one zero bit; even: for two zero bits.
	var odd gf2Matrix
	odd[0] = crcPolyReflected
	for i := 1; i < 64; i++ {
		odd[i] = 1 << (i - 1)
	}
	even := odd.square() // 2 zero bits
	op := even.square()  // 4 zero bits
	// Apply len2 zero bytes: op advances through 8, 16, 32 … bits per step.
	for {
		op = op.square() // first iteration: one zero byte
		if len2&1 != 0 {
			crc1 = op.times(crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}
