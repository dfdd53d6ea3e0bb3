package tusstore

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/vodgate/vodgate/internal/osstest"
)

// TestDeferredPartPlan walks the part plan of a deferred-length upload that
// keeps growing: with a buffer budget that allows 5 GiB parts it reaches
// 48.8 TB (MaxLength, the declared-length maximum) within 10,000 parts;
// every part is within OSS's limits and the budget, parts never shrink, and
// the first 32 parts keep the configured size.
func TestDeferredPartPlan(t *testing.T) {
	tests := []struct {
		name   string
		budget int64
		reach  int64 // bytes the 10,000 parts must hold at least
	}{
		{"5 GiB parts reach 48.8 TB", 2 * MaxPartSize, MaxObjectSize},
		{"default budget reaches 98% of MaxLength", DefaultBufferBudget, MaxParts * (DefaultBufferBudget / 2) / 100 * 98},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{cfg: Config{PartSize: DefaultPartSize, MinPartSize: MinPartSize, BufferBudget: tc.budget, MaxSize: MaxObjectSize}}
			limit := min(int64(MaxPartSize), tc.budget/2)
			var start, prev int64
			used := 0
			for ; used < MaxParts && start < s.MaxLength(); used++ {
				ps := s.partSizeFor(0, true, used, start)
				if ps < MinPartSize || ps > limit || ps < prev {
					t.Fatalf("part %d at %d: size %d (previous %d), want in [%d, %d] and not shrinking", used+1, start, ps, prev, MinPartSize, limit)
				}
				if used < deferredGrowth && ps != DefaultPartSize {
					t.Fatalf("part %d: size %d, want the configured %d", used+1, ps, DefaultPartSize)
				}
				prev = ps
				start += ps
			}
			if start < tc.reach {
				t.Fatalf("%d parts hold %d bytes, want >= %d (MaxLength %d)", used, start, tc.reach, s.MaxLength())
			}
			t.Logf("%d parts hold %d bytes (MaxLength %d); last part %d", used, start, s.MaxLength(), prev)
		})
	}
}

// TestDeferredPartsGrow sends a deferred-length upload past deferredGrowth
// configured-size parts in PATCHes that end mid-part: its parts grow, OSS
// gets part numbers 1..n once each with every part but the last at least
// the minimum size, and the completed object equals the bytes sent.
func TestDeferredPartsGrow(t *testing.T) {
	e := newEnv(t, nil) // 1 MiB parts
	data := randomBytes(45<<20+77, 16)
	loc := e.create(-1, map[string]string{"filename": "grow.mp4"})
	cuts := []int{9<<20 + 500<<10, 23<<20 + 3, 37 << 20, len(data)}
	off := 0
	for i, end := range cuts {
		var extra map[string]string
		if end == len(data) {
			extra = map[string]string{"Upload-Length": strconv.Itoa(len(data))}
		}
		if res := e.patch(loc, int64(off), data[off:end], extra); res.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH %d: %d", i+1, res.StatusCode)
		}
		off = end
	}
	e.checkObject(loc, data)

	sizes := map[int]int64{}
	for _, c := range e.oss.Calls() {
		if c.Op != osstest.OpUploadPart || c.Status != http.StatusOK {
			continue
		}
		if _, dup := sizes[c.PartNumber]; dup {
			t.Fatalf("part %d uploaded twice", c.PartNumber)
		}
		sizes[c.PartNumber] = c.Bytes
	}
	var total, largest int64
	for n := 1; n <= len(sizes); n++ {
		sz, ok := sizes[n]
		if !ok {
			t.Fatalf("parts %v: number %d missing", sizes, n)
		}
		if n < len(sizes) && sz < MinPartSize {
			t.Fatalf("part %d of %d: %d bytes, below the minimum", n, len(sizes), sz)
		}
		total += sz
		largest = max(largest, sz)
	}
	if total != int64(len(data)) {
		t.Fatalf("parts hold %d bytes, want %d", total, len(data))
	}
	if largest <= 1<<20 {
		t.Fatalf("largest part %d bytes: parts did not grow past the configured 1 MiB (%d parts)", largest, len(sizes))
	}
	t.Logf("%d parts, largest %d bytes", len(sizes), largest)
}
