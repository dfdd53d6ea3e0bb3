package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func jwksAuth(t *testing.T, url string, clock *fakeClock) *Authenticator {
	t.Helper()
	a, err := New(Config{JWKSURL: url, Issuer: "https://app.example.com", Audience: []string{"vodgate"},
		JWKSRefresh: 10 * time.Minute, JWKSMinRefresh: 30 * time.Second, Clock: clock.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	var ae *Error
	if reason == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.As(err, &ae) || ae.Reason != reason {
		t.Fatalf("error %v, want reason %s", err, reason)
	}
}

func TestJWKSRotation(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name       string
		alg        string
		old, newer any
	}{
		{"RS256", "RS256", rsaKey1, rsaKey2},
		{"ES256", "ES256", ecKey1, ecKey2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwkOf("old", tc.old))
			clock := &fakeClock{t: testNow}
			a := jwksAuth(t, srv.URL, clock)
			ctx := context.Background()
			tokOld := signJWT(t, map[string]any{"alg": tc.alg, "kid": "old"}, claims(nil), tc.old)
			tokNew := signJWT(t, map[string]any{"alg": tc.alg, "kid": "new"}, claims(nil), tc.newer)

			c, err := a.Authenticate(ctx, tokOld)
			wantReason(t, err, "")
			if c.Owner != "alice" {
				t.Fatalf("owner %q", c.Owner)
			}
			// Unknown kid: one refresh (once JWKSMinRefresh has passed), then
			// unknown_key; more unknown kids within JWKSMinRefresh do not
			// fetch again.
			clock.add(31 * time.Second)
			wantReason(t, mustErr(a.Authenticate(ctx, tokNew)), ReasonUnknownKey)
			for range 50 {
				wantReason(t, mustErr(a.Authenticate(ctx, tokNew)), ReasonUnknownKey)
			}
			if n := srv.fetches.Load(); n != 2 {
				t.Fatalf("fetches = %d, want 2 (first use, one refresh)", n)
			}

			// The issuer rotates: both keys published, then only the new one.
			srv.setKeys(jwkOf("old", tc.old), jwkOf("new", tc.newer))
			clock.add(31 * time.Second)
			wantReason(t, mustErr(a.Authenticate(ctx, tokNew)), "")
			wantReason(t, mustErr(a.Authenticate(ctx, tokOld)), "")
			if n := srv.fetches.Load(); n != 3 {
				t.Fatalf("fetches = %d, want 3", n)
			}
			srv.setKeys(jwkOf("new", tc.newer))
			clock.add(10 * time.Minute) // periodic refresh drops the old key
			wantReason(t, mustErr(a.Authenticate(ctx, tokOld)), ReasonUnknownKey)
			wantReason(t, mustErr(a.Authenticate(ctx, tokNew)), "")

			// A token signed by a key not in the JWKS under a known kid.
			forged := signJWT(t, map[string]any{"alg": tc.alg, "kid": "new"}, claims(nil), tc.old)
			wantReason(t, mustErr(a.Authenticate(ctx, forged)), ReasonBadSignature)
			// No kid: every key of the algorithm is tried.
			noKid := signJWT(t, map[string]any{"alg": tc.alg}, claims(nil), tc.newer)
			wantReason(t, mustErr(a.Authenticate(ctx, noKid)), "")
		})
	}
}

func mustErr(_ any, err error) error { return err }

func TestJWKSUnavailable(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, jwkOf("k", ecKey1))
	srv.fail.Store(true)
	clock := &fakeClock{t: testNow}
	a := jwksAuth(t, srv.URL, clock)
	ctx := context.Background()
	tok := signJWT(t, map[string]any{"alg": "ES256", "kid": "k"}, claims(nil), ecKey1)

	err := mustErr(a.Authenticate(ctx, tok))
	wantReason(t, err, ReasonKeysUnavailable)
	if s := err.(*Error).Status(); s != 503 {
		t.Fatalf("status %d, want 503", s)
	}
	srv.fail.Store(false)
	clock.add(31 * time.Second)
	wantReason(t, mustErr(a.Authenticate(ctx, tok)), "")

	// Later outages keep the cached keys.
	srv.fail.Store(true)
	clock.add(11 * time.Minute)
	wantReason(t, mustErr(a.Authenticate(ctx, tok)), "")
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestParseJWKS(t *testing.T) {
	testKeys(t)
	small := jwkOf("small", rsaKey1)
	small["n"] = "AQAB" // a tiny modulus
	for _, tc := range []struct {
		name string
		doc  string
		keys int
	}{
		{"rsa and ec", `{"keys":[` + mustJSON(jwkOf("a", rsaKey1)) + `,` + mustJSON(jwkOf("b", ecKey1)) + `]}`, 2},
		{"skips enc and unknown kty", `{"keys":[{"kty":"oct","k":"abc"},` + mustJSON(jwkOf("a", ecKey1)) +
			`,{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`, 1},
		{"small rsa only", `{"keys":[` + mustJSON(small) + `]}`, 0},
		{"bad curve", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, 0},
		{"point off curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + zeros32 + `","y":"` + zeros32 + `"}]}`, 0},
		{"not json", `nope`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tc.doc))
			if tc.keys == 0 {
				if err == nil {
					t.Fatalf("want error, got %d keys", len(keys))
				}
				return
			}
			if err != nil || len(keys) != tc.keys {
				t.Fatalf("keys %d, err %v; want %d", len(keys), err, tc.keys)
			}
		})
	}
}

const zeros32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
