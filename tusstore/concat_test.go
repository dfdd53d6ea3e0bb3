package tusstore

import "testing"

// TestPartialPartSize: a partial's parts fit its range of part numbers and
// never leave less than the minimum part size at its end.
func TestPartialPartSize(t *testing.T) {
	s := &Store{cfg: Config{PartSize: 8 << 20, MinPartSize: 100 << 10}}
	tests := []struct {
		name  string
		size  int64
		used  int // absolute part numbers used before this part
		start int64
		want  int64
	}{
		{name: "configured size", size: 64 << 20, used: 625, start: 0, want: 8 << 20},
		{name: "takes in a small remainder", size: 8<<20 + 50<<10, used: 625, start: 0, want: 8<<20 + 50<<10},
		{name: "remainder of exactly the minimum stays", size: 8<<20 + 100<<10, used: 625, start: 0, want: 8 << 20},
		{name: "last part of the partial", size: 20 << 20, used: 627, start: 16 << 20, want: 8 << 20},
		{name: "grows to fit the range", size: 10 << 30, used: 625, start: 0, want: 17 << 20}, // 10 GiB in 625 parts
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &upload{s: s, rec: &record{info: recordInfo{Size: tc.size, Partial: true, PartBase: 626, PartEnd: 1251}}}
			if got := u.partSize(tc.used, tc.start); got != tc.want {
				t.Errorf("partSize(%d, %d) = %d, want %d", tc.used, tc.start, got, tc.want)
			}
			if got := u.partLimit(); got != 1251 {
				t.Errorf("partLimit = %d, want 1251", got)
			}
		})
	}
	if u := (&upload{s: s, rec: &record{}}); u.partLimit() != MaxParts+1 || u.strands(1) {
		t.Errorf("a plain upload: partLimit %d, strands(1) %v", u.partLimit(), u.strands(1))
	}
}
