//go:build !linux

package tusstore

// mapArena allocates the arena on the Go heap: it stays live (and so
// allocated) as long as the store.
func mapArena(size int) []byte { return make([]byte, size) }
