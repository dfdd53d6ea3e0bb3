package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestProtocolCorrections(t *testing.T) {
	ts, store := newTestServer(t, nil)
	loc := create(t, ts.URL, "10")
	origin := "https://app.example.com"
	tests := []struct {
		name, method, url string
		header            map[string]string
		body              string
		status            int
		bodyHas           string
	}{
		{"bad metadata rejected with CORS", "POST", ts.URL + "/files/", map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Length": "1", "Upload-Metadata": "filename eA==,title dA== extra", "Origin": origin},
			"", 400, "ERR_INVALID_METADATA: pair 2"},
		{"good metadata accepted", "POST", ts.URL + "/files/", map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Length": "1", "Upload-Metadata": "filename eA==,private"}, "", 201, ""},
		{"PATCH wrong content type", "PATCH", loc, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Offset": "0", "Content-Type": "application/octet-stream", "Origin": origin}, "ab", 415, "ERR_INVALID_CONTENT_TYPE"},
		{"PATCH no content type via override", "POST", loc, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"}, "ab", 415, "ERR_INVALID_CONTENT_TYPE"},
		{"PATCH bad offset stays 400", "PATCH", loc, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Offset": "x", "Content-Type": octetStream}, "ab", 400, "ERR_INVALID_OFFSET"},
		{"HEAD unsupported version", "HEAD", loc, map[string]string{"Tus-Resumable": "0.2.2", "Origin": origin}, "", 412, ""},
		{"GET unsupported version", "GET", loc, map[string]string{"Tus-Resumable": "2.0.0"}, "", 412, "ERR_UNSUPPORTED_VERSION"},
		{"HEAD supported version", "HEAD", loc, map[string]string{"Tus-Resumable": "1.0.0"}, "", 200, ""},
		{"PATCH ok", "PATCH", loc, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Offset": "0", "Content-Type": octetStream}, "ab", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || !strings.Contains(string(body), tc.bodyHas) {
				t.Errorf("got %d %q, want %d containing %q", res.StatusCode, body, tc.status, tc.bodyHas)
			}
			if tc.status == 412 && res.Header.Get("Tus-Version") != "1.0.0" {
				t.Errorf("412 without Tus-Version: %v", res.Header)
			}
			if tc.header["Origin"] != "" && res.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("error response lacks CORS headers: %v", res.Header)
			}
		})
	}
	if n := len(store.uploads); n != 2 {
		t.Errorf("%d uploads exist, want 2 (the rejected POST must not create one)", n)
	}
}
