package userdata

import (
	"errors"
	"testing"
)

func TestPolicy(t *testing.T) {
	allow := Policy{CallbackHosts: []string{"hooks.example.com", "*.cb.example.org"}}
	for _, tc := range []struct {
		name string
		p    Policy
		raw  string
		ok   bool
	}{
		{"empty", Policy{}, "", true},
		{"no callback, no extend", Policy{}, `{"Vod":{"Title":"x"}}`, true},
		{"extend refused by default", Policy{}, `{"Extend":{"k":"v"}}`, false},
		{"extend allowed by config", Policy{ClientExtend: true}, `{"Extend":{"k":"v"}}`, true},
		{"callback refused without allow-list", Policy{}, `{"MessageCallback":{"CallbackURL":"https://hooks.example.com/x"}}`, false},
		{"callback on allowed host", allow, `{"MessageCallback":{"CallbackURL":"https://hooks.example.com/x","CallbackType":"http"}}`, true},
		{"callback on allowed subdomain", allow, `{"MessageCallback":{"CallbackURL":"https://a.cb.example.org/x"}}`, true},
		{"callback on the bare wildcard domain", allow, `{"MessageCallback":{"CallbackURL":"https://cb.example.org/x"}}`, false},
		{"callback elsewhere", allow, `{"MessageCallback":{"CallbackURL":"https://evil.example/x"}}`, false},
		{"callback suffix trick", allow, `{"MessageCallback":{"CallbackURL":"https://hooks.example.com.evil.example/x"}}`, false},
		{"callback with credentials", allow, `{"MessageCallback":{"CallbackURL":"https://u:p@hooks.example.com/x"}}`, false},
		{"callback not http", allow, `{"MessageCallback":{"CallbackURL":"ftp://hooks.example.com/x"}}`, false},
		{"callback metadata address", allow, `{"MessageCallback":{"CallbackURL":"http://169.254.169.254/"}}`, false},
		{"not JSON is left to validation", Policy{}, `nope`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%s) = %v, want ok %v", tc.raw, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrRefused) {
				t.Fatalf("error %v does not wrap ErrRefused", err)
			}
		})
	}
}

func FuzzPolicy(f *testing.F) {
	p := Policy{CallbackHosts: []string{"hooks.example.com", "*.cb.example.org"}}
	for _, s := range []string{`{"MessageCallback":{"CallbackURL":"https://hooks.example.com/x"}}`, `{"Extend":1}`, `{}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := p.Check(raw); err != nil && !errors.Is(err, ErrRefused) {
			t.Fatalf("unexpected error kind %v", err)
		}
	})
}
