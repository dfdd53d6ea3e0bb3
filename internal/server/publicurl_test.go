package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestParsePublicURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://upload.example.com": true, "http://127.0.0.1:8080": true, "https://upload.example.com/": true,
		"upload.example.com": false, "ftp://x.example": false, "https://u:p@x.example": false,
		"https://x.example/files/": false, "https://x.example?a=1": false, "https://": false,
	} {
		if _, err := ParsePublicURL(raw); (err == nil) != ok {
			t.Errorf("ParsePublicURL(%q) = %v, want ok %v", raw, err, ok)
		}
	}
}

// With public-url set, a client's Host and X-Forwarded-Host cannot choose
// the host of the upload URL it is given.
func TestPublicURLLocation(t *testing.T) {
	for _, behind := range []bool{false, true} {
		ts, _ := newTestServer(t, func(c *Config) { c.PublicURL = "https://upload.example.com"; c.BehindProxy = behind })
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/files/", nil)
		req.Host = "evil.example"
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "5")
		req.Header.Set("X-Forwarded-Host", "evil2.example")
		req.Header.Set("X-Forwarded-Proto", "http")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "https://upload.example.com/files/") {
			t.Errorf("behind-proxy %v: %d Location %q, want https://upload.example.com/files/…", behind, res.StatusCode, loc)
		}
	}
}
