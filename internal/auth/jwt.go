package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

// JWT algorithms the gateway can verify.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// jwtHeader is the JOSE header of a compact JWS.
type jwtHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// audience is the aud claim: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var arr []string
	if err := json.Unmarshal(b, &arr); err != nil {
		return errors.New("aud must be a string or a list of strings")
	}
	*a = arr
	return nil
}

// jwtClaims are the registered claims checked and the vod_* claims that
// restrict uploads (see the package documentation).
type jwtClaims struct {
	Sub string      `json:"sub"`
	Iss string      `json:"iss"`
	Aud audience    `json:"aud"`
	Exp numericDate `json:"exp"`
	Nbf numericDate `json:"nbf"`

	MaxSize         flexInt    `json:"vod_max_size"`
	MediaTypes      stringList `json:"vod_media_types"`
	TemplateGroupID string     `json:"vod_template_group_id"`
	WorkflowID      string     `json:"vod_workflow_id"`
	CateID          flexInt    `json:"vod_cate_id"`
	StorageLocation string     `json:"vod_storage_location"`
	AppID           string     `json:"vod_app_id"`
	Admin           bool       `json:"vod_admin"`
}

// jwtVerifier verifies compact JWS tokens.
type jwtVerifier struct {
	secret   []byte          // HS256 key; nil disables HS256
	keys     *keySet         // RS256/ES256 keys; nil disables them
	algs     map[string]bool // algorithms accepted
	issuer   string          // required iss, if not empty
	audience []string        // aud must contain one of these, if not empty
	leeway   time.Duration
	now      func() time.Time
}

// verify checks token's signature, then its claims, and returns its caller.
func (v *jwtVerifier) verify(ctx context.Context, token string) (tusstore.Caller, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tusstore.Caller{}, reject(ReasonMalformed, "token is not a JWT")
	}
	var hdr jwtHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return tusstore.Caller{}, reject(ReasonMalformed, "JWT header is not base64url JSON")
	}
	switch {
	case strings.EqualFold(hdr.Alg, "none") || hdr.Alg == "":
		return tusstore.Caller{}, reject(ReasonAlgNone, "unsigned JWT (alg none) not accepted")
	case !v.algs[hdr.Alg]:
		return tusstore.Caller{}, reject(ReasonAlgNotAllowed, "JWT algorithm not accepted")
	case len(hdr.Crit) > 0:
		return tusstore.Caller{}, reject(ReasonMalformed, "JWT critical header extensions not supported")
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return tusstore.Caller{}, reject(ReasonMalformed, "JWT signature is not base64url")
	}
	signed := token[:len(parts[0])+1+len(parts[1])]
	if err := v.verifySignature(ctx, hdr, []byte(signed), sig); err != nil {
		return tusstore.Caller{}, err
	}

	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return tusstore.Caller{}, reject(ReasonMalformed, "JWT claims are not valid base64url JSON")
	}
	now := v.now()
	switch {
	case !c.Exp.set:
		return tusstore.Caller{}, reject(ReasonBadClaims, "JWT has no exp claim")
	case now.After(time.Unix(c.Exp.v, 0).Add(v.leeway)):
		return tusstore.Caller{}, reject(ReasonExpired, "token expired")
	case c.Nbf.set && now.Add(v.leeway).Before(time.Unix(c.Nbf.v, 0)):
		return tusstore.Caller{}, reject(ReasonNotYetValid, "token not valid yet")
	case v.issuer != "" && c.Iss != v.issuer:
		return tusstore.Caller{}, reject(ReasonWrongIssuer, "wrong token issuer")
	case len(v.audience) > 0 && !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(v.audience, a) }):
		return tusstore.Caller{}, reject(ReasonWrongAudience, "wrong token audience")
	}
	return capClaims{
		Subject: c.Sub, MaxSize: int64(c.MaxSize), MediaTypes: c.MediaTypes,
		TemplateGroupID: c.TemplateGroupID, WorkflowID: c.WorkflowID, CateID: int64(c.CateID),
		StorageLocation: c.StorageLocation, AppID: c.AppID, Admin: c.Admin,
	}.caller()
}

func (v *jwtVerifier) verifySignature(ctx context.Context, hdr jwtHeader, signed, sig []byte) error {
	digest := sha256.Sum256(signed)
	switch hdr.Alg {
	case AlgHS256:
		mac := hmac.New(sha256.New, v.secret)
		mac.Write(signed)
		if !hmac.Equal(mac.Sum(nil), sig) {
			return reject(ReasonBadSignature, "invalid token signature")
		}
		return nil
	case AlgRS256, AlgES256:
		keys, err := v.keys.lookup(ctx, hdr.Kid, hdr.Alg)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if verifyAsym(hdr.Alg, k, digest[:], sig) {
				return nil
			}
		}
		return reject(ReasonBadSignature, "invalid token signature")
	}
	return reject(ReasonAlgNotAllowed, "JWT algorithm not accepted")
}

// verifyAsym verifies an RS256 or ES256 signature; the key's type must
// match the algorithm.
func verifyAsym(alg string, key crypto.PublicKey, digest, sig []byte) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == AlgRS256 && rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	case *ecdsa.PublicKey:
		if alg != AlgES256 || k.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

// decodeSegment decodes unpadded base64url JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
