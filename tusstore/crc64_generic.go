//go:build !amd64 || purego

package tusstore

// clmulAvailable reports whether crcFold can run: never on this build.
func clmulAvailable() bool { return false }

// crcFold is only called when clmulAvailable reports true.
func crcFold(uint64, []byte, *[4]uint64) (lo, hi uint64) {
	panic("tusstore: crcFold without carry-less multiplication")
}
