package tusstore

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// arena is the memory of the buffer budget: one region, mapped once when
// the store is made and never returned to the OS, cut into blocks handed
// out from a LIFO free list. The block freed last is handed out first, so
// a quiet gateway keeps reusing the few blocks whose pages are already
// faulted in instead of paying a page fault (and zeroing) per 4 KiB of a
// fresh block, which a GC-emptied pool of blocks did for every burst.
//
// The resident memory of a gateway is therefore at most the blocks ever
// in use at once (touched), never more than the budget, and it stays so
// while the gateway is quiet. With prefault, all of it is touched at
// start.
type arena struct {
	mem     []byte
	mu      sync.Mutex
	free    []int32 // indexes of free blocks; the top is the last freed
	used    []bool  // blocks handed out at least once (their pages were touched)
	touched atomic.Int64
}

// newArena maps n blocks. With prefault, every page is written once now.
func newArena(n int, prefault bool) *arena {
	a := &arena{mem: mapArena(n * blockSize), free: make([]int32, n), used: make([]bool, n)}
	for i := range a.free {
		a.free[i] = int32(n - 1 - i) // block 0 on top: low blocks are reused first
	}
	if prefault {
		for i := 0; i < len(a.mem); i += 4 << 10 {
			a.mem[i] = 0
		}
		for i := range a.used {
			a.used[i] = true
		}
		a.touched.Store(int64(len(a.mem)))
	}
	return a
}

// take hands out a free block. The caller holds a budget slot, so one is
// free.
func (a *arena) take() *[blockSize]byte {
	a.mu.Lock()
	i := a.free[len(a.free)-1]
	a.free = a.free[:len(a.free)-1]
	if !a.used[i] {
		a.used[i] = true
		a.touched.Add(blockSize)
	}
	a.mu.Unlock()
	return (*[blockSize]byte)(a.mem[int(i)*blockSize:])
}

// give returns blk to the top of the free list.
func (a *arena) give(blk *[blockSize]byte) {
	i := int32((uintptrOf(blk) - uintptrOf((*[blockSize]byte)(a.mem))) / blockSize)
	a.mu.Lock()
	a.free = append(a.free, i)
	a.mu.Unlock()
}

// mapped is the size of the arena in bytes.
func (a *arena) mapped() int64 { return int64(len(a.mem)) }

func uintptrOf(b *[blockSize]byte) uintptr { return uintptr(unsafe.Pointer(b)) }
