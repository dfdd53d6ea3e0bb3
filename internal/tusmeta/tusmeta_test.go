package tusmeta

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestValidate(t *testing.T) {
	many := func(n int) string {
		var keys []string
		for i := range n {
			keys = append(keys, "k"+strings.Repeat("x", i))
		}
		return strings.Join(keys, ",")
	}
	for _, tc := range []struct {
		name, in, wantErr string // wantErr "": valid
	}{
		{"empty", "", ""},
		{"tus-js-client", "filename " + b64("a.mp4") + ",filetype " + b64("video/mp4"), ""},
		{"key without value", "filename dGVzdC5tcDQ=,is_private,title dGl0bGU=", ""},
		{"spaces around pairs", " filename dGVzdC5tcDQ= , title dGl0bGU= ", ""},
		{"trailing comma", "filename dGVzdC5tcDQ=,", ""},
		{"64 keys", many(64), ""},
		{"value not base64", "filename !!not-base64!!", "not valid standard Base64"},
		{"url-safe base64", "filename " + base64.URLEncoding.EncodeToString([]byte("??>>")), "not valid standard Base64"},
		{"three fields", "filename dGVzdC5tcDQ=,title dGl0bGU= extra", "3 space-separated fields"},
		{"two spaces", "title  dGl0bGU=", "space-separated fields"},
		{"duplicate key", "a YQ==,a Yg==", `"a" appears twice`},
		{"non-ASCII key", "fïle YQ==", "not printable ASCII"},
		{"control char in key", "fil\x01ename YQ==", "not printable ASCII"},
		{"65 keys", many(65), "more than 64 keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.in)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate(%q) = %v, want %q", tc.in, err, tc.wantErr)
			}
		})
	}
}
