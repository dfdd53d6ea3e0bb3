//go:build amd64 && !purego

package tusstore

import "golang.org/x/sys/cpu"

// clmulAvailable reports whether crcFold can run on this CPU.
func clmulAvailable() bool { return cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE2 }

// crcFold folds p (len(p) ≥ 128, a multiple of 128) into one 16-byte block
// congruent to it modulo the CRC polynomial, with r XORed into the first 8
// bytes, using carry-less multiplication over 8 independent 16-byte lanes.
// The raw CRC of p from register r equals the raw CRC of that block (lo,
// hi as little-endian words) from register 0. k holds the fold constants
// of crcTable.fold.
//
//go:noescape
func crcFold(r uint64, p []byte, k *[4]uint64) (lo, hi uint64)
