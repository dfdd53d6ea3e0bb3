package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzAuth accepts HS256 JWTs and upload tokens at the fixed testNow, so
// the committed corpus stays valid.
func fuzzAuth(f *testing.F) *Authenticator {
	a, err := New(Config{JWTSecret: testSecret, UploadTokenKeys: [][]byte{testTokenKey},
		Issuer: "https://app.example.com", Audience: []string{"vodgate"},
		Clock: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	return a
}

// checkVerdict asserts the invariants of any verification: a refusal is
// an *Error with a known reason whose message does not echo the input; an
// acceptance is only possible for a token byte-identical to one that was
// legitimately signed (no malleable encodings).
func checkVerdict(t *testing.T, token string, err error, valid []string) {
	if err == nil {
		if !slices.Contains(valid, token) {
			t.Fatalf("accepted a token that was never signed: %q", token)
		}
		return
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if !slices.Contains(reasons, ae.Reason) {
		t.Fatalf("unknown reason %q", ae.Reason)
	}
	if len(token) >= 8 && strings.Contains(ae.Description, token) {
		t.Fatalf("message echoes the token: %q", ae.Description)
	}
	if strings.ContainsAny(ae.Description, "\"\r\n") {
		t.Fatalf("message unsafe in a header: %q", ae.Description)
	}
}

var reasons = []string{ReasonMissing, ReasonMalformed, ReasonAlgNone, ReasonAlgNotAllowed, ReasonUnknownKey,
	ReasonBadSignature, ReasonExpired, ReasonNotYetValid, ReasonWrongIssuer, ReasonWrongAudience,
	ReasonBadClaims, ReasonKeysUnavailable, ReasonTokenKindUnknown}

func FuzzJWT(f *testing.F) {
	a := fuzzAuth(f)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	valid := []string{
		signJWT(f, hs, claims(nil), testSecret),
		signJWT(f, hs, claims(map[string]any{"vod_max_size": 1 << 20, "vod_media_types": "video,image",
			"vod_cate_id": 3, "vod_template_group_id": "tg"}), testSecret),
		signJWT(f, hs, claims(map[string]any{"aud": []string{"x", "vodgate"}, "nbf": testNow.Unix()}), testSecret),
	}
	for _, v := range valid {
		f.Add(v)
	}
	for _, s := range []string{
		signJWT(f, map[string]any{"alg": "none"}, claims(nil), nil),
		signJWT(f, hs, claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), testSecret),
		signJWT(f, hs, claims(map[string]any{"exp": 1e300}), testSecret),
		signJWT(f, map[string]any{"alg": "RS256", "kid": "x"}, claims(nil), testSecret),
		"eyJhbGciOiJIUzI1NiJ9.e30.", "..", "a.b.c", "eyJ.eyJ.eyJ", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, err := a.Authenticate(context.Background(), token)
		checkVerdict(t, token, err, valid)
	})
}

func FuzzUploadToken(f *testing.F) {
	a := fuzzAuth(f)
	exp := testNow.Add(time.Hour).Unix()
	var valid []string
	for _, c := range []UploadClaims{
		{Subject: "alice", Expires: exp, IssuedAt: testNow.Unix(), Nonce: "n1"},
		{Subject: "bob", Expires: exp, IssuedAt: testNow.Unix(), Nonce: "n2", MaxSize: 5 << 20,
			MediaTypes: []string{"video"}, TemplateGroupID: "tg", CateID: 9, StorageLocation: "loc", AppID: "app", WorkflowID: "wf"},
	} {
		tok, err := MintUploadToken(testTokenKey, c)
		if err != nil {
			f.Fatal(err)
		}
		valid = append(valid, tok)
		f.Add(tok)
	}
	for _, s := range []string{"v1.", "v1..", "v1.e30.AAAA", "v1.e30." + strings.Repeat("A", 43), "v1.x.y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, err := a.Authenticate(context.Background(), token)
		checkVerdict(t, token, err, valid)
	})
}
