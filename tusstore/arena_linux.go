//go:build linux

package tusstore

import "syscall"

// mapArena maps size bytes of anonymous memory outside the Go heap (the
// GC neither scans nor frees it), asking for transparent huge pages where
// the kernel allows (fewer faults for each block touched the first time).
// MAP_NORESERVE: pages cost memory only once touched. If the mapping
// fails, the arena is an ordinary allocation.
func mapArena(size int) []byte {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return make([]byte, size)
	}
	_ = syscall.Madvise(mem, syscall.MADV_HUGEPAGE) // best effort: THP may be off
	return mem
}
