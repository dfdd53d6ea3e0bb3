package tusstore

import (
	"net/url"
	"testing"
)

func TestCheckPublicURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://img.example.com/cover.jpg", true},
		{"http://cdn.example.cn:8080/a.png?x=1", true},
		{"https://203.0.113.9/a.png", true},
		{"https://[2001:db8::1]/a.png", true},
		{"https://ad1.example.de/a.png", true},
		{"https://user:pass@img.example.com/a.png", false},
		{"https://user@img.example.com/a.png", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://127.0.0.1/a.png", false},
		{"http://10.0.0.1/a.png", false},
		{"http://192.168.1.1/a.png", false},
		{"http://172.16.0.1/a.png", false},
		{"http://100.100.100.200/a.png", false}, // Aliyun's metadata service
		{"http://0.0.0.0/a.png", false},
		{"http://[::1]/a.png", false},
		{"http://[fe80::1]/a.png", false},
		{"http://[fd00::1]/a.png", false},
		{"http://[::ffff:127.0.0.1]/a.png", false},
		{"http://2130706433/a.png", false},
		{"http://0x7f.1/a.png", false},
		{"http://localhost/a.png", false},
		{"http://metadata.google.internal/a.png", false},
		{"http://intranet/a.png", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkPublicURL(u); (err == nil) != tc.ok {
			t.Errorf("checkPublicURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

// FuzzCheckPublicURL: no URL panics the check, and whatever passes has no
// credentials and a host.
func FuzzCheckPublicURL(f *testing.F) {
	for _, s := range []string{"https://a.example/x", "http://u:p@10.0.0.1/", "http://[::1]/", "http://0x7f.1/", "http://%31%32%37.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if checkPublicURL(u) == nil && (u.User != nil || u.Hostname() == "") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzValidID: ValidID accepts exactly the IDs newID mints (32 lowercase
// hex digits) and never panics.
func FuzzValidID(f *testing.F) {
	id, _ := newID()
	for _, s := range []string{id, "", "{x}", "0123456789ABCDEF0123456789abcdef", id + "0", "a\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) == 32
		for _, c := range s {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				want = false
			}
		}
		if got := ValidID(s); got != want {
			t.Fatalf("ValidID(%q) = %v, want %v", s, got, want)
		}
	})
}
