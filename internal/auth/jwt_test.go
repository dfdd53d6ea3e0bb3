package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

var testNow = time.Unix(1_800_000_000, 0)

func newTestAuth(t *testing.T, mutate func(*Config)) *Authenticator {
	t.Helper()
	cfg := Config{
		JWTSecret: testSecret, UploadTokenKeys: [][]byte{testTokenKey},
		Issuer: "https://app.example.com", Audience: []string{"vodgate"},
		Clock: func() time.Time { return testNow },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "alice", "iss": "https://app.example.com", "aud": "vodgate",
		"exp": testNow.Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestJWTHS256(t *testing.T) {
	a := newTestAuth(t, nil)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	for _, tc := range []struct {
		name   string
		token  string
		reason string // "" for success
		want   tusstore.Caller
	}{
		{name: "valid", token: signJWT(t, hs, claims(nil), testSecret), want: tusstore.Caller{Owner: "alice"}},
		{name: "aud list", token: signJWT(t, hs, claims(map[string]any{"aud": []string{"other", "vodgate"}}), testSecret),
			want: tusstore.Caller{Owner: "alice"}},
		{name: "within leeway", token: signJWT(t, hs, claims(map[string]any{"exp": testNow.Add(-10 * time.Second).Unix()}), testSecret),
			want: tusstore.Caller{Owner: "alice"}},
		{name: "fractional exp", token: signJWT(t, hs, claims(map[string]any{"exp": float64(testNow.Unix()) + 60.5}), testSecret),
			want: tusstore.Caller{Owner: "alice"}},
		{name: "caps", token: signJWT(t, hs, claims(map[string]any{
			"vod_max_size": 1 << 20, "vod_media_types": []string{"video"}, "vod_template_group_id": "tg-1",
			"vod_workflow_id": "wf.2", "vod_cate_id": "42", "vod_storage_location": "outin-x.oss-cn-shanghai.aliyuncs.com",
			"vod_app_id": "app-1"}), testSecret),
			want: tusstore.Caller{Owner: "alice", MaxSize: 1 << 20, MediaTypes: []string{"video"},
				Fixed: tusstore.Fixed{TemplateGroupID: "tg-1", WorkflowID: "wf.2", CateID: 42,
					StorageLocation: "outin-x.oss-cn-shanghai.aliyuncs.com", AppID: "app-1"}}},
		{name: "media types as string", token: signJWT(t, hs, claims(map[string]any{"vod_media_types": "video, image"}), testSecret),
			want: tusstore.Caller{Owner: "alice", MediaTypes: []string{"video", "image"}}},

		{name: "expired", token: signJWT(t, hs, claims(map[string]any{"exp": testNow.Add(-time.Minute).Unix()}), testSecret), reason: ReasonExpired},
		{name: "no exp", token: signJWT(t, hs, claims(map[string]any{"exp": nil}), testSecret), reason: ReasonBadClaims},
		{name: "not yet valid", token: signJWT(t, hs, claims(map[string]any{"nbf": testNow.Add(time.Minute).Unix()}), testSecret), reason: ReasonNotYetValid},
		{name: "bad signature", token: signJWT(t, hs, claims(nil), []byte("another-secret-another-secret-0123")), reason: ReasonBadSignature},
		{name: "tampered claims", token: tamper(signJWT(t, hs, claims(nil), testSecret), claims(map[string]any{"sub": "mallory"})), reason: ReasonBadSignature},
		{name: "alg none", token: signJWT(t, map[string]any{"alg": "none"}, claims(nil), nil), reason: ReasonAlgNone},
		{name: "alg None", token: signJWT(t, map[string]any{"alg": "None"}, claims(nil), nil), reason: ReasonAlgNone},
		{name: "alg missing", token: signJWT(t, map[string]any{"typ": "JWT"}, claims(nil), testSecret), reason: ReasonAlgNone},
		{name: "alg RS256 not configured", token: signJWT(t, map[string]any{"alg": "RS256"}, claims(nil), testSecret), reason: ReasonAlgNotAllowed},
		{name: "alg HS512", token: signJWT(t, map[string]any{"alg": "HS512"}, claims(nil), testSecret), reason: ReasonAlgNotAllowed},
		{name: "crit header", token: signJWT(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, claims(nil), testSecret), reason: ReasonMalformed},
		{name: "wrong issuer", token: signJWT(t, hs, claims(map[string]any{"iss": "https://evil.example.com"}), testSecret), reason: ReasonWrongIssuer},
		{name: "no issuer", token: signJWT(t, hs, claims(map[string]any{"iss": nil}), testSecret), reason: ReasonWrongIssuer},
		{name: "wrong audience", token: signJWT(t, hs, claims(map[string]any{"aud": "other"}), testSecret), reason: ReasonWrongAudience},
		{name: "no audience", token: signJWT(t, hs, claims(map[string]any{"aud": nil}), testSecret), reason: ReasonWrongAudience},
		{name: "no subject", token: signJWT(t, hs, claims(map[string]any{"sub": nil}), testSecret), reason: ReasonBadClaims},
		{name: "subject with newline", token: signJWT(t, hs, claims(map[string]any{"sub": "a\nb"}), testSecret), reason: ReasonBadClaims},
		{name: "bad media type", token: signJWT(t, hs, claims(map[string]any{"vod_media_types": []string{"audio"}}), testSecret), reason: ReasonBadClaims},
		{name: "negative max size", token: signJWT(t, hs, claims(map[string]any{"vod_max_size": -1}), testSecret), reason: ReasonBadClaims},
		{name: "bad template group", token: signJWT(t, hs, claims(map[string]any{"vod_template_group_id": "a b"}), testSecret), reason: ReasonBadClaims},
		{name: "exp as string", token: signJWT(t, hs, claims(map[string]any{"exp": "soon"}), testSecret), reason: ReasonMalformed},
		{name: "two parts", token: "eyJhbGciOiJIUzI1NiJ9.e30", reason: ReasonMalformed},
		{name: "garbage", token: "not-a-token", reason: ReasonMalformed},
		{name: "padded base64", token: strings.Replace(signJWT(t, hs, claims(nil), testSecret), ".", "=.", 1), reason: ReasonMalformed},
		{name: "too long", token: strings.Repeat("a", maxTokenBytes+1), reason: ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := a.Authenticate(context.Background(), tc.token)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !equalCaller(c, tc.want) {
					t.Fatalf("caller %+v, want %+v", c, tc.want)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s", err, tc.reason)
			}
			if strings.Contains(ae.Error(), tc.token) || strings.Contains(ae.Error(), string(testSecret)) {
				t.Fatalf("error leaks the token or secret: %v", ae)
			}
		})
	}
}

// tamper replaces a JWT's claims, keeping its header and signature.
func tamper(token string, c map[string]any) string {
	parts := strings.Split(token, ".")
	forged := strings.Split(signJWT(&testing.T{}, map[string]any{"alg": "HS256"}, c, []byte("x")), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

func equalCaller(a, b tusstore.Caller) bool {
	if a.Owner != b.Owner || a.MaxSize != b.MaxSize || a.Fixed != b.Fixed || len(a.MediaTypes) != len(b.MediaTypes) {
		return false
	}
	for i := range a.MediaTypes {
		if a.MediaTypes[i] != b.MediaTypes[i] {
			return false
		}
	}
	return true
}

// An HS256 token signed with the bytes of an RSA public key (the classic
// algorithm-confusion attack) must not pass a JWKS-only configuration.
func TestJWTAlgorithmConfusion(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwkOf("k1", rsaKey1))
	a := newTestAuth(t, func(c *Config) { c.JWTSecret, c.JWKSURL = nil, srv.URL })
	pub := rsaKey1.PublicKey.N.Bytes()
	tok := signJWT(t, map[string]any{"alg": "HS256", "kid": "k1"}, claims(nil), pub)
	var ae *Error
	if _, err := a.Authenticate(context.Background(), tok); !errors.As(err, &ae) || ae.Reason != ReasonAlgNotAllowed {
		t.Fatalf("got %v, want alg_not_allowed", err)
	}
	// An ES256 header over an RSA key's signature does not verify either.
	tok = signJWT(t, map[string]any{"alg": "ES256", "kid": "k1"}, claims(nil), rsaKey1)
	if _, err := a.Authenticate(context.Background(), tok); !errors.As(err, &ae) || ae.Reason != ReasonUnknownKey {
		t.Fatalf("got %v, want unknown_key", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"off", Config{}, true},
		{"hs256", Config{JWTSecret: testSecret}, true},
		{"short secret", Config{JWTSecret: []byte("short")}, false},
		{"short token key", Config{UploadTokenKeys: [][]byte{testTokenKey, []byte("short")}}, false},
		{"bad jwks url", Config{JWKSURL: "ftp://x"}, false},
		{"RS256 without jwks", Config{JWTSecret: testSecret, Algorithms: []string{"RS256"}}, false},
		{"unknown alg", Config{JWTSecret: testSecret, Algorithms: []string{"HS256", "PS256"}}, false},
		{"bad hook url", Config{Hook: HookConfig{URL: "not a url"}}, false},
		{"short hook secret", Config{Hook: HookConfig{URL: "http://127.0.0.1:1/", Secret: []byte("x")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), string(testSecret)) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
