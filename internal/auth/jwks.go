package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits of a JWKS document.
const (
	maxJWKSBytes   = 1 << 20
	minRSAKeyBits  = 2048
	jwksFetchLimit = 10 * time.Second // upper bound of one fetch, below the HTTP client's own timeout
)

// jwk is one usable verification key of a JWKS.
type jwk struct {
	kid string
	alg string // "" if the JWKS does not say
	key crypto.PublicKey
}

// keySet caches the keys of a JWKS URL. lookup refreshes them when they
// are older than refresh, or when no key matches, at most once per
// minRefresh; a failed refresh keeps the cached keys. It is safe for
// concurrent use; one fetch runs at a time and callers wait for it.
type keySet struct {
	url        string
	client     *http.Client
	refresh    time.Duration
	minRefresh time.Duration
	now        func() time.Time
	logger     *slog.Logger
	onFetch    func(ok bool) // metrics hook; may be nil

	mu        sync.Mutex
	keys      []jwk
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch attempt
}

// lookup returns the candidate keys for a token's kid and alg.
func (s *keySet) lookup(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	found := s.match(kid, alg)
	stale := s.fetched.IsZero() || now.Sub(s.fetched) >= s.refresh
	if (stale || len(found) == 0) && (s.attempted.IsZero() || now.Sub(s.attempted) >= s.minRefresh) {
		s.attempted = now
		fctx, cancel := context.WithTimeout(ctx, jwksFetchLimit)
		keys, err := s.fetch(fctx)
		cancel()
		if s.onFetch != nil {
			s.onFetch(err == nil)
		}
		if err != nil {
			s.logger.WarnContext(ctx, "JWKSFetchFailed", "host", hostOf(s.url), "error", err, "cachedKeys", len(s.keys))
		} else {
			s.keys, s.fetched = keys, now
			s.logger.DebugContext(ctx, "JWKSFetched", "host", hostOf(s.url), "keys", len(keys))
			found = s.match(kid, alg)
		}
	}
	if len(found) > 0 {
		return found, nil
	}
	if s.fetched.IsZero() {
		return nil, reject(ReasonKeysUnavailable, "signing keys are unavailable, retry later")
	}
	return nil, reject(ReasonUnknownKey, "unknown signing key")
}

// match returns the cached keys usable for kid and alg; an empty kid
// matches every key of the algorithm.
func (s *keySet) match(kid, alg string) []crypto.PublicKey {
	var out []crypto.PublicKey
	for _, k := range s.keys {
		if (kid != "" && k.kid != kid) || (k.alg != "" && k.alg != alg) {
			continue
		}
		switch k.key.(type) {
		case *rsa.PublicKey:
			if alg != AlgRS256 {
				continue
			}
		case *ecdsa.PublicKey:
			if alg != AlgES256 {
				continue
			}
		}
		out = append(out, k.key)
	}
	return out
}

func (s *keySet) fetch(ctx context.Context) ([]jwk, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // drop the URL, which may carry a query string
		}
		return nil, fmt.Errorf("auth: fetch jwks: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("auth: fetch jwks: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("auth: jwks larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS returns the RSA and P-256 signature keys of a JWKS document,
// skipping keys of other types or uses; it fails if none is usable.
func parseJWKS(body []byte) ([]jwk, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("auth: parse jwks: %w", err)
	}
	var keys []jwk
	var skipped []string
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var key crypto.PublicKey
		var err error
		switch k.Kty {
		case "RSA":
			key, err = rsaKey(k.N, k.E)
		case "EC":
			key, err = ecKey(k.Crv, k.X, k.Y)
		default:
			continue
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		keys = append(keys, jwk{kid: k.Kid, alg: k.Alg, key: key})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth: jwks has no usable RSA or P-256 signing key (%s)", strings.Join(skipped, "; "))
	}
	return keys, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err1 := b64url(n)
	eb, err2 := b64url(e)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad RSA modulus or exponent")
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	if k.N.BitLen() < minRSAKeyBits || k.E < 3 || k.E%2 == 0 {
		return nil, fmt.Errorf("RSA key under %d bits or bad exponent", minRSAKeyBits)
	}
	return k, nil
}

func ecKey(crv, x, y string) (*ecdsa.PublicKey, error) {
	if crv != "P-256" {
		return nil, fmt.Errorf("curve %q not supported", crv)
	}
	xb, err1 := b64url(x)
	yb, err2 := b64url(y)
	if err1 != nil || err2 != nil || len(xb) != 32 || len(yb) != 32 {
		return nil, errors.New("bad EC coordinates")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
	if err != nil {
		return nil, errors.New("EC point not on P-256")
	}
	return k, nil
}

// b64url decodes base64url with or without padding (JWKS publishers vary).
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}
