package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

// UploadTokenPrefix starts every upload token (version 1 of the format).
const UploadTokenPrefix = "v1."

// MinKeyBytes is the shortest HMAC key (upload tokens, HS256 secret)
// accepted.
const MinKeyBytes = 32

// ErrShortKey is returned for an HMAC key under [MinKeyBytes].
var ErrShortKey = fmt.Errorf("auth: key shorter than %d bytes", MinKeyBytes)

// UploadClaims are the claims of an upload token (see the package
// documentation for the format). Subject and Expires are required.
type UploadClaims struct {
	Subject         string   `json:"sub"`
	Expires         int64    `json:"exp"` // unix seconds
	IssuedAt        int64    `json:"iat,omitempty"`
	MaxSize         int64    `json:"max,omitempty"`   // bytes; 0: no cap
	MediaTypes      []string `json:"types,omitempty"` // video, image, attached
	TemplateGroupID string   `json:"tg,omitempty"`
	WorkflowID      string   `json:"wf,omitempty"`
	CateID          int64    `json:"cate,omitempty"`
	StorageLocation string   `json:"loc,omitempty"`
	AppID           string   `json:"app,omitempty"`
	Nonce           string   `json:"nonce,omitempty"`
	Admin           bool     `json:"adm,omitempty"` // may list and cancel every owner's uploads
}

func (c UploadClaims) caps() capClaims {
	return capClaims{
		Subject: c.Subject, MaxSize: c.MaxSize, MediaTypes: c.MediaTypes,
		TemplateGroupID: c.TemplateGroupID, WorkflowID: c.WorkflowID, CateID: c.CateID,
		StorageLocation: c.StorageLocation, AppID: c.AppID, Admin: c.Admin,
	}
}

// MintUploadToken returns an upload token carrying c, signed with key
// (at least [MinKeyBytes] bytes). A missing Nonce is filled with random
// bytes and a missing IssuedAt with the current time. The token is a
// secret: hand it to the one client it is meant for.
func MintUploadToken(key []byte, c UploadClaims) (string, error) {
	if len(key) < MinKeyBytes {
		return "", ErrShortKey
	}
	if c.Expires == 0 {
		return "", errors.New("auth: upload token needs an expiry")
	}
	if _, err := c.caps().caller(); err != nil {
		return "", fmt.Errorf("auth: upload token claims: %w", err)
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	if c.Nonce == "" {
		c.Nonce = rand.Text()[:16]
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("auth: encode upload token: %w", err)
	}
	signed := UploadTokenPrefix + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sign(key, signed)), nil
}

func sign(key []byte, signed string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return mac.Sum(nil)
}

// verifyUploadToken checks token against keys (any may have signed it)
// and the clock, and returns its claims and caller.
func verifyUploadToken(keys [][]byte, token string, now time.Time, leeway time.Duration) (UploadClaims, tusstore.Caller, error) {
	var c UploadClaims
	rest, ok := strings.CutPrefix(token, UploadTokenPrefix)
	if !ok {
		return c, tusstore.Caller{}, reject(ReasonMalformed, "not an upload token")
	}
	payload, sigText, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigText, ".") {
		return c, tusstore.Caller{}, reject(ReasonMalformed, "upload token must have three parts")
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return c, tusstore.Caller{}, reject(ReasonMalformed, "upload token signature is not base64url HMAC-SHA256")
	}
	signed := token[:len(UploadTokenPrefix)+len(payload)]
	valid := false
	for _, k := range keys {
		// Check every key, so timing does not tell which one matched.
		if hmac.Equal(sign(k, signed), sig) {
			valid = true
		}
	}
	if !valid {
		return c, tusstore.Caller{}, reject(ReasonBadSignature, "invalid token signature")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return c, tusstore.Caller{}, reject(ReasonMalformed, "upload token claims are not base64url")
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, tusstore.Caller{}, reject(ReasonMalformed, "upload token claims are not valid JSON")
	}
	switch {
	case c.Expires == 0:
		return c, tusstore.Caller{}, reject(ReasonBadClaims, "upload token has no exp claim")
	case now.After(time.Unix(c.Expires, 0).Add(leeway)):
		return c, tusstore.Caller{}, reject(ReasonExpired, "token expired")
	}
	caller, err := c.caps().caller()
	return c, caller, err
}
