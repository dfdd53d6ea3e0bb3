package osstest

import (
	"net/http"
	"strings"
	"testing"
)

func TestNewServerAt(t *testing.T) {
	s, err := NewServerAt("127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s", s.URL())
	}
	if _, err := NewServerAt(strings.TrimPrefix(s.URL(), "http://"), Config{}); err == nil {
		t.Error("second server on the same address started")
	}
	s.Close()
	s.Close() // idempotent
}

func TestRequestTime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		date, oss string
		v4        bool
		wantStamp string
		wantErr   bool
	}{
		{"v1 date", "Wed, 01 Jan 2025 10:00:00 GMT", "20250101T110000Z", false, "Wed, 01 Jan 2025 10:00:00 GMT", false},
		{"v4 x-oss-date wins", "Wed, 01 Jan 2025 10:00:00 GMT", "20250101T110000Z", true, "20250101T110000Z", false},
		{"v4 date only", "Wed, 01 Jan 2025 10:00:00 GMT", "", true, "Wed, 01 Jan 2025 10:00:00 GMT", false},
		{"missing date", "", "", false, "", true},
		{"bad date", "yesterday", "", false, "", true},
		{"bad x-oss-date", "", "2025-01-01", true, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.date != "" {
				h.Set("Date", tc.date)
			}
			if tc.oss != "" {
				h.Set("X-Oss-Date", tc.oss)
			}
			stamp, tm, e := requestTime(h, tc.v4)
			if (e != nil) != tc.wantErr {
				t.Fatalf("err %v", e)
			}
			if e == nil && (stamp != tc.wantStamp || tm.IsZero() || tm.Year() != 2025) {
				t.Errorf("stamp %q time %v", stamp, tm)
			}
			if e != nil && e.status != 403 {
				t.Errorf("status %d", e.status)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		a, b int64
		ok   bool
	}{
		{"bytes=0-9", 0, 9, true},
		{"bytes=10-", 10, -1, true},
		{"bytes=-5", -1, 5, true},
		{"bytes=9-0", 0, 0, false},
		{"bytes=0-1,4-5", 0, 0, false},
		{"items=0-1", 0, 0, false},
		{"bytes=-", 0, 0, false},
		{"bytes=x-1", 0, 0, false},
	} {
		a, b, ok := parseRange(tc.in)
		if ok != tc.ok || ok && (a != tc.a || b != tc.b) {
			t.Errorf("parseRange(%q) = %d, %d, %v", tc.in, a, b, ok)
		}
	}
}
