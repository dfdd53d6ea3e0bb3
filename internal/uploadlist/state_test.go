package uploadlist

import (
	"testing"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

func TestApplyProgress(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	c := &Catalog{stallAfter: 10 * time.Minute}
	live := func(p tusstore.Progress) tusstore.Progress {
		p.Found = true
		if p.Expires.IsZero() {
			p.Expires = now.Add(time.Hour)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		p    tusstore.Progress
		want string
	}{
		{"no record", tusstore.Progress{}, StateExpired},
		{"bytes flowing", live(tusstore.Progress{Offset: 10, Size: 100, Updated: now.Add(-time.Minute)}), StateUploading},
		{"no byte for longer than stall-after", live(tusstore.Progress{Offset: 10, Size: 100, Updated: now.Add(-11 * time.Minute)}), StateStalled},
		{"every byte in, not finished", live(tusstore.Progress{Offset: 100, Size: 100, Updated: now.Add(-time.Hour)}), StateCompleting},
		{"deferred at its size so far", live(tusstore.Progress{Offset: 100, Size: 0, Deferred: true, Updated: now}), StateUploading},
		{"finished", live(tusstore.Progress{Offset: 100, Size: 100, Finished: true}), StateComplete},
		{"past its expiry", live(tusstore.Progress{Offset: 10, Size: 100, Expires: now.Add(-time.Second)}), StateExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := Item{CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour)}
			c.applyProgress(&it, tc.p, now)
			if it.State != tc.want {
				t.Fatalf("state %q, want %q", it.State, tc.want)
			}
			if (it.State == StateComplete || it.State == StateExpired) && !it.ExpiresAt.IsZero() {
				t.Fatalf("ended item keeps expiresAt %v", it.ExpiresAt)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	score, after, err := parseCursor(formatCursor("1796492154467322", id))
	if err != nil || score != "1796492154467322" || after != id {
		t.Fatalf("round trip = %q %q %v", score, after, err)
	}
	if s, a, err := parseCursor(""); err != nil || s != "+inf" || a != "" {
		t.Fatalf("empty cursor = %q %q %v", s, a, err)
	}
	for _, bad := range []string{"!!", formatCursor("x", id), formatCursor("1", "../etc"), formatCursor("1", ""), "MTIz"} {
		if _, _, err := parseCursor(bad); err != ErrBadCursor {
			t.Errorf("parseCursor(%q) = %v, want ErrBadCursor", bad, err)
		}
	}
}
