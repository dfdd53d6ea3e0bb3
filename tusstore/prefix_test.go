package tusstore

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func numbers(ps []part) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.Number)
	}
	return out
}

// pt is part n of size bytes starting at byte start.
func pt(n int, start, size int64) part {
	return part{Number: n, ETag: fmt.Sprintf(`"E%d"`, n), Size: size, CRC: uint64(n), Start: start}
}

// TestRecordLoadCountsOnlyThePrefix: a record as loaded counts only the
// parts that follow one another from byte 0; parts recorded beyond a gap
// (a writer died with an earlier part unacknowledged) are dropped, never
// listed, their fields noted for deletion, and their numbers not reused.
func TestRecordLoadCountsOnlyThePrefix(t *testing.T) {
	for _, tc := range []struct {
		name       string
		parts      []part
		tail       string
		wantParts  []int
		wantDrop   []string
		wantOffset int64
		wantNext   int
	}{
		{"in order", []part{pt(1, 0, 10), pt(2, 10, 10), pt(3, 20, 5)}, "", []int{1, 2, 3}, nil, 25, 4},
		{"gap drops the parts beyond it", []part{pt(1, 0, 10), pt(2, 10, 10), pt(4, 30, 10), pt(5, 40, 10)}, "", []int{1, 2}, []string{"o:4", "o:5", "p:4", "p:5"}, 20, 6},
		{"gap with a tail after the prefix", []part{pt(1, 0, 10), pt(3, 20, 10)}, "abc", []int{1}, []string{"o:3", "p:3"}, 13, 4},
		{"first part missing", []part{pt(2, 10, 10), pt(3, 20, 10)}, "", nil, []string{"o:2", "o:3", "p:2", "p:3"}, 0, 4},
		{"wasted number, bytes contiguous", []part{pt(1, 0, 10), pt(3, 10, 10)}, "", []int{1, 3}, nil, 20, 4},
		{"resumed after a gap: stale parts skipped", []part{pt(1, 0, 10), pt(2, 10, 10), pt(4, 30, 10), pt(5, 40, 10),
			pt(6, 20, 10), pt(7, 30, 10), pt(8, 40, 5)}, "", []int{1, 2, 6, 7, 8}, []string{"o:4", "o:5", "p:4", "p:5"}, 45, 9},
		{"legacy parts without start", []part{{Number: 1, ETag: `"A"`, Size: 10, Start: -1}, {Number: 2, ETag: `"B"`, Size: 7, Start: -1}}, "", []int{1, 2}, nil, 17, 3},
		{"legacy then new", []part{{Number: 1, ETag: `"A"`, Size: 10, Start: -1}, pt(2, 10, 10), pt(4, 30, 1)}, "", []int{1, 2}, []string{"o:4", "p:4"}, 20, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &record{info: recordInfo{Size: 1000}, parts: slices.Clone(tc.parts), tail: []byte(tc.tail)}
			m, err := encodeRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.parts {
				if _, ok := m["o:"+fmt.Sprint(p.Number)]; ok == (p.Start < 0) {
					t.Fatalf("part %d start %d: start field present = %v", p.Number, p.Start, ok)
				}
			}
			got, err := decodeRecord(m)
			if err != nil {
				t.Fatal(err)
			}
			if n := numbers(got.parts); !reflect.DeepEqual(n, tc.wantParts) {
				t.Errorf("parts %v, want %v", n, tc.wantParts)
			}
			slices.Sort(got.dropped)
			if !reflect.DeepEqual(got.dropped, tc.wantDrop) {
				t.Errorf("dropped %v, want %v", got.dropped, tc.wantDrop)
			}
			if got.offset() != tc.wantOffset {
				t.Errorf("offset %d, want %d", got.offset(), tc.wantOffset)
			}
			if got.nextPart() != tc.wantNext {
				t.Errorf("next part %d, want %d", got.nextPart(), tc.wantNext)
			}
		})
	}
}

// TestRecordOutOfOrderAcks: parts acknowledged out of order count only
// once the gap before them is filled; offsetWith predicts each step.
func TestRecordOutOfOrderAcks(t *testing.T) {
	type step struct {
		p      part
		tailed bool
		want   int64 // offset after the step
	}
	for _, tc := range []struct {
		name      string
		tail      string
		steps     []step
		wantParts []int
	}{
		{"in order", "", []step{{pt(1, 0, 10), false, 10}, {pt(2, 10, 10), false, 20}, {pt(3, 20, 10), false, 30}}, []int{1, 2, 3}},
		{"3 held, 4 and 5 first", "", []step{{pt(1, 0, 10), false, 10}, {pt(2, 10, 10), false, 20},
			{pt(4, 30, 10), false, 20}, {pt(5, 40, 10), false, 20}, {pt(3, 20, 10), false, 50}}, []int{1, 2, 3, 4, 5}},
		{"reverse", "", []step{{pt(3, 20, 5), false, 0}, {pt(2, 10, 10), false, 0}, {pt(1, 0, 10), false, 25}}, []int{1, 2, 3}},
		{"tail counts until its part lands", "xy", []step{{pt(2, 12, 10), false, 2}, {pt(1, 0, 12), true, 22}}, []int{1, 2}},
		{"partial fill", "", []step{{pt(1, 0, 10), false, 10}, {pt(4, 30, 10), false, 10}, {pt(2, 10, 10), false, 20}}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &record{info: recordInfo{Size: 1000}, tail: []byte(tc.tail)}
			for i, s := range tc.steps {
				if got := r.offsetWith(s.p, s.tailed); got != s.want {
					t.Errorf("step %d: offsetWith %d, want %d", i, got, s.want)
				}
				r.addPart(s.p)
				if s.tailed {
					r.tail = nil
				}
				if r.offset() != s.want {
					t.Errorf("step %d (part %d): offset %d, want %d", i, s.p.Number, r.offset(), s.want)
				}
			}
			if n := numbers(r.parts); !reflect.DeepEqual(n, tc.wantParts) {
				t.Errorf("parts listed at Complete %v, want %v", n, tc.wantParts)
			}
		})
	}
}
