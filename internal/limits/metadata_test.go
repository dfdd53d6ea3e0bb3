package limits

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestCheckMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    string
		max  int
		code string // "" if valid
	}{
		{"empty", "", 100, ""},
		{"tus-js-client", "filename " + b64("a.mp4") + ",filetype " + b64("video/mp4"), 100, ""},
		{"key without value", "filename " + b64("a.mp4") + ",is_confidential", 100, ""},
		{"spaces around pairs", " filename " + b64("a.mp4") + " , title " + b64("t") + " ", 100, ""},
		{"trailing comma", "filename " + b64("a.mp4") + ",", 100, ""},
		{"no cap", manyKeys(60) + ",t " + b64(strings.Repeat("v", 9000)), 0, ""},
		{"over the cap", "filename " + b64(strings.Repeat("a", 200)), 100, "ERR_METADATA_TOO_LARGE"},
		{"value not base64", "filename a.mp4", 100, "ERR_INVALID_METADATA"},
		{"url-safe base64", "filename " + base64.URLEncoding.EncodeToString([]byte("??>>")), 100, "ERR_INVALID_METADATA"},
		{"three fields", "filename " + b64("a") + " extra", 100, "ERR_INVALID_METADATA"},
		{"duplicate key", "a " + b64("1") + ",a " + b64("2"), 100, "ERR_INVALID_METADATA"},
		{"control char in key", "fil\x01ename " + b64("a"), 100, "ERR_INVALID_METADATA"},
		{"non-ASCII key", "filenäme " + b64("a"), 100, "ERR_INVALID_METADATA"},
		{"too many keys", manyKeys(65), 0, "ERR_INVALID_METADATA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkMetadata(tc.v, tc.max)
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.code != "" && (err == nil || err.ErrorCode != tc.code || err.HTTPResponse.StatusCode != 400):
				t.Fatalf("error %v, want %s/400", err, tc.code)
			}
		})
	}
}

func manyKeys(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, "k"+strings.Repeat("x", i))
	}
	return strings.Join(parts, ",")
}

func TestRequestHeaderCaps(t *testing.T) {
	l, err := New(nil, Config{MaxHeaderBytes: 2048, MaxMetadataBytes: 256, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := l.Request(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"small", "POST", map[string]string{"Upload-Metadata": "filename " + b64("a.mp4")}, 204},
		{"big header", "PATCH", map[string]string{"X-Pad": strings.Repeat("p", 3000)}, 431},
		{"big metadata", "POST", map[string]string{"Upload-Metadata": "title " + b64(strings.Repeat("t", 300))}, 400},
		{"bad metadata", "POST", map[string]string{"Upload-Metadata": "filename a.mp4"}, 400},
		{"preflight passes", "OPTIONS", map[string]string{"X-Pad": strings.Repeat("p", 3000)}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/files/", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := serve(h, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want >= 400 && !strings.HasPrefix(rec.Body.String(), "ERR_") {
				t.Fatalf("body %q, want a tus error", rec.Body)
			}
		})
	}
}
