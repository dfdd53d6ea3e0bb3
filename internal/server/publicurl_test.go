package server

import (
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"
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

// The IETF draft's 104 interim response carries the upload URL too: with
// public-url it names the public host, and a draft creation's metadata
// comes from DraftMetadata, which the client-metadata check sees.
func TestPublicURLInterimAndDraftMetadata(t *testing.T) {
	var checked handler.MetaData
	ts, _ := newTestServer(t, func(c *Config) {
		c.PublicURL = "https://upload.example.com"
		c.ResumableUploads = true
		c.DraftMetadata = func(h http.Header, derived handler.MetaData) handler.MetaData {
			return handler.MetaData{"filename": "d.mp4", "from": h.Get("Upload-Draft-Interop-Version")}
		}
		c.CheckClientMetadata = func(m handler.MetaData) error { checked = m; return nil }
	})
	var interim []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		interim = append(interim, strconv.Itoa(code)+" "+h.Get("Location"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, ts.URL+"/files/", nil)
	req.Host = "evil.example"
	req.Header.Set("Upload-Draft-Interop-Version", "6")
	req.Header.Set("Upload-Complete", "?0")
	req.Header.Set("Upload-Length", "5")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || len(interim) != 1 || !strings.HasPrefix(interim[0], "104 https://upload.example.com/files/") ||
		interim[0] != "104 "+res.Header.Get("Location") {
		t.Errorf("%d Location %q, interim %q: want one 104 with the same public Location", res.StatusCode, res.Header.Get("Location"), interim)
	}
	if checked["filename"] != "d.mp4" || checked["from"] != "6" {
		t.Errorf("CheckClientMetadata saw %v, want DraftMetadata's", checked)
	}
}
