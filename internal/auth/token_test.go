package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

func TestUploadToken(t *testing.T) {
	a := newTestAuth(t, func(c *Config) {
		c.UploadTokenKeys = [][]byte{[]byte("new-key-0123456789abcdef0123456789ab"), testTokenKey}
	})
	exp := testNow.Add(time.Hour).Unix()
	mint := func(key []byte, c UploadClaims) string {
		t.Helper()
		tok, err := MintUploadToken(key, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	full := UploadClaims{Subject: "bob", Expires: exp, MaxSize: 5 << 20, MediaTypes: []string{"video", "image"},
		TemplateGroupID: "tg", WorkflowID: "wf", CateID: 7, StorageLocation: "loc.example", AppID: "app"}
	good := mint(testTokenKey, full)
	for _, tc := range []struct {
		name   string
		token  string
		reason string
		want   tusstore.Caller
	}{
		{name: "all claims", token: good, want: tusstore.Caller{Owner: "bob", MaxSize: 5 << 20,
			MediaTypes: []string{"video", "image"}, Fixed: tusstore.Fixed{TemplateGroupID: "tg", WorkflowID: "wf",
				CateID: 7, StorageLocation: "loc.example", AppID: "app"}}},
		{name: "second key", token: mint([]byte("new-key-0123456789abcdef0123456789ab"), UploadClaims{Subject: "bob", Expires: exp}),
			want: tusstore.Caller{Owner: "bob"}},
		{name: "expired", token: mint(testTokenKey, UploadClaims{Subject: "bob", Expires: testNow.Add(-time.Hour).Unix()}), reason: ReasonExpired},
		{name: "unknown key", token: mint([]byte("some-other-key-0123456789abcdef0123"), UploadClaims{Subject: "bob", Expires: exp}), reason: ReasonBadSignature},
		{name: "tampered claims", token: swapPayload(good, `{"sub":"mallory","exp":9999999999}`), reason: ReasonBadSignature},
		{name: "truncated signature", token: good[:len(good)-2], reason: ReasonMalformed},
		{name: "extra part", token: good + ".x", reason: ReasonMalformed},
		{name: "no signature", token: "v1." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)), reason: ReasonMalformed},
		{name: "v2", token: "v2" + strings.TrimPrefix(good, "v1"), reason: ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := a.Authenticate(context.Background(), tc.token)
			if tc.reason == "" {
				if err != nil || !equalCaller(c, tc.want) {
					t.Fatalf("caller %+v, err %v; want %+v", c, err, tc.want)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s", err, tc.reason)
			}
		})
	}
}

// swapPayload replaces an upload token's claims, keeping its signature.
func swapPayload(tok, claims string) string {
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "." + parts[2]
}

func TestMintUploadTokenRefuses(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name string
		key  []byte
		c    UploadClaims
	}{
		{"short key", []byte("short"), UploadClaims{Subject: "a", Expires: exp}},
		{"no subject", testTokenKey, UploadClaims{Expires: exp}},
		{"no expiry", testTokenKey, UploadClaims{Subject: "a"}},
		{"bad media type", testTokenKey, UploadClaims{Subject: "a", Expires: exp, MediaTypes: []string{"audio"}}},
		{"bad template group", testTokenKey, UploadClaims{Subject: "a", Expires: exp, TemplateGroupID: "x/y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tok, err := MintUploadToken(tc.key, tc.c); err == nil {
				t.Fatalf("minted %q", tok)
			}
		})
	}
}

func TestUploadTokenNotEnabled(t *testing.T) {
	a := newTestAuth(t, func(c *Config) { c.UploadTokenKeys = nil })
	tok, err := MintUploadToken(testTokenKey, UploadClaims{Subject: "a", Expires: testNow.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, mustErr(a.Authenticate(context.Background(), tok)), ReasonTokenKindUnknown)
}

// Leeway: zero is the 30s default, negative is none.
func TestLeeway(t *testing.T) {
	expired := UploadClaims{Subject: "bob", Expires: testNow.Add(-10 * time.Second).Unix()}
	tok, err := MintUploadToken(testTokenKey, expired)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		ok     bool
	}{
		{"default 30s covers 10s", 0, true},
		{"none", -1, false},
		{"5s", 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAuth(t, func(c *Config) { c.Leeway = tc.leeway })
			_, err := a.Authenticate(context.Background(), tok)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
