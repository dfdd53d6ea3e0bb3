package urljobs

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://media.example.com/a.mp4", true},
		{"http://media.example.com/clips/a%20b.mp4?sig=x%2By", true},
		{"https://8.8.8.8/a.mp4", true},
		{"ftp://media.example.com/a.mp4", false},
		{"file:///etc/passwd", false},
		{"https://user:pw@media.example.com/a.mp4", false},
		{"https://user@media.example.com/a.mp4", false},
		{"http://127.0.0.1/a.mp4", false},
		{"http://127.1/a.mp4", false},
		{"http://2130706433/a.mp4", false},
		{"http://0x7f.0.0.1/a.mp4", false},
		{"http://10.0.0.1/a.mp4", false},
		{"http://172.16.5.4/a.mp4", false},
		{"http://192.168.1.1/a.mp4", false},
		{"http://100.64.0.1/a.mp4", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://0.0.0.0/a.mp4", false},
		{"http://[::1]/a.mp4", false},
		{"http://[fe80::1]/a.mp4", false},
		{"http://[fd00::1]/a.mp4", false},
		{"http://[::ffff:127.0.0.1]/a.mp4", false},
		{"http://localhost/a.mp4", false},
		{"http://api.localhost/a.mp4", false},
		{"https://media.example.com/a b.mp4", false},
		{"https://media.example.com/caf\u00e9.mp4", false},
		{"https://media.example.com/a\".mp4", false},
		{"https://media.example.com/" + strings.Repeat("a", MaxURLBytes) + ".mp4", false},
		{"https:///a.mp4", false},
	} {
		err := CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%.60q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestState(t *testing.T) {
	for in, want := range map[string]string{
		"PENDING": StatePending, "PROCESSING": StatePending, "DOWNLOADING": StateDownloading,
		"DOWNLOAD_SUCCESS": StateDownloading, "UPLOADING": StateDownloading, "UPLOAD_SUCCESS": StateDownloading,
		"SUCCESS": StateComplete, "DOWNLOAD_FAIL": StateFailed, "UPLOAD_FAIL": StateFailed,
	} {
		if got := State(in); got != want {
			t.Errorf("State(%s) = %s, want %s", in, got, want)
		}
	}
}
