package tusstore

import (
	"context"
	"testing"
	"time"
)

// TestArenaReusesLastFreedBlock: blocks come back LIFO, so a quiet store
// reuses its already-touched blocks, and the touched bytes stay at the
// most ever in use at once.
func TestArenaReusesLastFreedBlock(t *testing.T) {
	tests := []struct {
		name     string
		prefault bool
		rounds   int
		wantTouc int64
	}{
		{"lazy", false, 5, 2 * blockSize},
		{"prefault", true, 5, 8 * blockSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBudget(8*blockSize, 10*time.Millisecond, tt.prefault)
			ctx := context.Background()
			var last *[blockSize]byte
			for r := 0; r < tt.rounds; r++ {
				x, err := b.get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				y, err := b.get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if r > 0 && x != last {
					t.Errorf("round %d: got block %p, want the last freed %p", r, x, last)
				}
				y[blockSize-1], x[0] = byte(r), byte(r)
				b.put(x)
				b.put(y)
				last = y
			}
			if got := b.arena.touched.Load(); got != tt.wantTouc {
				t.Errorf("touched = %d, want %d", got, tt.wantTouc)
			}
			if got := b.arena.mapped(); got != 8*blockSize {
				t.Errorf("mapped = %d, want %d", got, 8*blockSize)
			}
			if b.inUse() != 0 {
				t.Errorf("in use %d after all put back", b.inUse())
			}
		})
	}
}

// TestArenaBoundedByBudget: a budget of n blocks hands out n distinct
// blocks, then refuses (errBusy) until one is put back.
func TestArenaBoundedByBudget(t *testing.T) {
	b := newBudget(4*blockSize, 20*time.Millisecond, false)
	seen := map[*[blockSize]byte]bool{}
	var held []*[blockSize]byte
	for i := 0; i < 4; i++ {
		blk, err := b.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if seen[blk] {
			t.Fatalf("block %p handed out twice", blk)
		}
		seen[blk] = true
		held = append(held, blk)
	}
	if _, err := b.get(context.Background()); err != errBusy {
		t.Fatalf("fifth get: %v, want errBusy", err)
	}
	b.put(held[2])
	blk, err := b.get(context.Background())
	if err != nil || blk != held[2] {
		t.Fatalf("get after put = %p, %v; want %p", blk, err, held[2])
	}
}
