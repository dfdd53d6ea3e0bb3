package auth

import (
	"errors"
	"net/http"
	"strconv"
)

// Reasons a request is rejected; they are the values of the reason label
// of vodgate_auth_rejections_total and appear in [Error].
const (
	ReasonMissing          = "missing"            // no bearer token
	ReasonDuplicate        = "duplicate"          // more than one Authorization header
	ReasonMalformed        = "malformed"          // not a JWT or upload token, bad encoding or JSON
	ReasonAlgNone          = "alg_none"           // JWT alg "none"
	ReasonAlgNotAllowed    = "alg_not_allowed"    // JWT alg not configured
	ReasonUnknownKey       = "unknown_key"        // no key for the JWT's kid
	ReasonBadSignature     = "bad_signature"      // signature does not verify
	ReasonExpired          = "expired"            // exp in the past
	ReasonNotYetValid      = "not_yet_valid"      // nbf in the future
	ReasonWrongIssuer      = "wrong_issuer"       // iss not the configured issuer
	ReasonWrongAudience    = "wrong_audience"     // aud lacks the configured audience
	ReasonBadClaims        = "bad_claims"         // sub missing or a vod_* claim invalid
	ReasonKeysUnavailable  = "keys_unavailable"   // JWKS could not be fetched
	ReasonHookDenied       = "hook_denied"        // the pre-create hook said no
	ReasonHookUnavailable  = "hook_unavailable"   // the pre-create hook did not answer
	ReasonTokenKindUnknown = "token_kind_unknown" // a kind of token that is not enabled
)

// Error is why a credential was refused. Its message is safe to send to
// the client: it never contains the token or a key.
type Error struct {
	Reason      string // one of the Reason* constants
	Description string // human-readable detail, e.g. "token expired"
}

func (e *Error) Error() string { return "auth: " + e.Description }

// Status returns the HTTP status for the rejection: 401, or 503 when the
// keys could not be fetched.
func (e *Error) Status() int {
	if e.Reason == ReasonKeysUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

func reject(reason, desc string) *Error { return &Error{Reason: reason, Description: desc} }

// retryAfterSeconds is sent with 503 answers.
const retryAfterSeconds = 5

// writeError answers a refused request in tusd's error format (status,
// "ERR_CODE: message" body) with the RFC 6750 WWW-Authenticate challenge.
func writeError(w http.ResponseWriter, r *http.Request, realm string, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = reject(ReasonMalformed, "invalid token")
	}
	h := w.Header()
	code, status := "ERR_UNAUTHORIZED", ae.Status()
	switch {
	case status == http.StatusServiceUnavailable:
		code = "ERR_AUTH_UNAVAILABLE"
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case ae.Reason == ReasonMissing:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	default:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token", error_description="`+ae.Description+`"`)
	}
	body := code + ": " + ae.Description + "\n"
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
