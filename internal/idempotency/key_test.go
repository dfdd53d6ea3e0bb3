package idempotency

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"abc"}, "abc", true},
		{[]string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{[]string{" spaced "}, "spaced", true},
		{[]string{strings.Repeat("k", 255)}, strings.Repeat("k", 255), true},
		{[]string{strings.Repeat("k", 256)}, "", false},
		{[]string{`""`}, "", false},
		{[]string{""}, "", false},
		{[]string{"caf\u00e9"}, "", false},
		{[]string{"tab\there"}, "", false},
		{[]string{"a", "b"}, "", false},
	} {
		got, ok := parseKey(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseKey(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFingerprint(t *testing.T) {
	req := func(h map[string]string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/files/", nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	a := fingerprint(req(map[string]string{"Upload-Length": "10", "Upload-Metadata": "filename YQ=="}))
	for name, h := range map[string]map[string]string{
		"other length":   {"Upload-Length": "11", "Upload-Metadata": "filename YQ=="},
		"other metadata": {"Upload-Length": "10", "Upload-Metadata": "filename Yg=="},
		"deferred":       {"Upload-Defer-Length": "1", "Upload-Metadata": "filename YQ=="},
	} {
		if fingerprint(req(h)) == a {
			t.Errorf("%s: same fingerprint", name)
		}
	}
	if b := fingerprint(req(map[string]string{"Upload-Length": "10", "Upload-Metadata": "filename YQ==", "Authorization": "x"})); b != a {
		t.Error("a header outside the creation changed the fingerprint")
	}
}
