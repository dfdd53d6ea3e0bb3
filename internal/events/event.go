// Package events delivers what happens to uploads (and, relayed, to their
// VOD media) to the app's HTTP endpoints as Standard Webhooks
// (standardwebhooks.com): each event is written to an outbox (a Redis
// stream) and delivered at least once, signed, in order per upload, with
// retries and backoff up to a maximum age, then to a dead-letter stream.
//
// An event's webhook-id is derived from what it reports (the upload or
// media, the type, and what makes it unique), so an event written twice
// (a crash between the outbox and the state it reports, then a repair)
// reaches receivers with the same webhook-id, their idempotency key.
package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Event types.
const (
	UploadCreated             = "upload.created"
	UploadCompleted           = "upload.completed"
	UploadFailed              = "upload.failed"
	UploadCancelled           = "upload.cancelled"
	UploadExpired             = "upload.expired"
	UploadStalled             = "upload.stalled"
	MediaUploaded             = "media.uploaded"
	MediaTranscoded           = "media.transcoded"
	MediaFailed               = "media.failed"
	MediaURLUploadCompleted   = "media.url_upload_completed"
	webhookSecretPrefix       = "whsec_"
	signatureVersion          = "v1"
	maxTypePatternsPerWebhook = 32
)

// Types lists every event type, for validating endpoint filters.
var Types = []string{UploadCreated, UploadCompleted, UploadFailed, UploadCancelled, UploadExpired, UploadStalled,
	MediaUploaded, MediaTranscoded, MediaFailed, MediaURLUploadCompleted}

// EventID derives an event's webhook-id from its type, its subject (the
// upload or media it is about) and a discriminator that tells apart two
// events of one type about one subject ("" when there is only one).
func EventID(typ, subject, discriminator string) string {
	sum := sha256.Sum256([]byte(typ + "\x00" + subject + "\x00" + discriminator))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// Secret is a Standard Webhooks signing key.
type Secret []byte

// ParseSecrets reads signing secrets, one per line, each "whsec_" and the
// base64 of at least 24 bytes (blank lines and # comments are skipped).
// Several secrets are a rotation: every delivery is signed with each.
func ParseSecrets(text string) ([]Secret, error) {
	var out []Secret
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b64, ok := strings.CutPrefix(line, webhookSecretPrefix)
		if !ok {
			return nil, fmt.Errorf("events: secret on line %d does not start with %s", i+1, webhookSecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("events: secret on line %d is not base64: %w", i+1, err)
		}
		if len(key) < 24 {
			return nil, fmt.Errorf("events: secret on line %d has %d bytes, want at least 24", i+1, len(key))
		}
		out = append(out, key)
	}
	if len(out) == 0 {
		return nil, errors.New("events: no secret")
	}
	return out, nil
}

// Sign returns the webhook-signature header value for a delivery: one
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, space
// separated.
func Sign(secrets []Secret, id, timestamp string, body []byte) string {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		mac := hmac.New(sha256.New, s)
		mac.Write([]byte(id + "." + timestamp + "."))
		mac.Write(body)
		sigs = append(sigs, signatureVersion+","+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// Endpoint is where events go, and which.
type Endpoint struct {
	URL string
	// Types are exact types or prefixes ending in "*" (e.g. "media.*");
	// empty means every type.
	Types []string
}

// ParseEndpoint reads an endpoint: a URL whose fragment, if any, lists
// the types it wants, separated by "+" ("https://app.example/hooks#upload.completed+media.*").
// Fragments are never sent, so the URL delivered to is the one without it.
func ParseEndpoint(s string) (Endpoint, error) {
	u, frag, _ := strings.Cut(strings.TrimSpace(s), "#")
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return Endpoint{}, fmt.Errorf("events: endpoint %q: want an http or https URL", u)
	}
	ep := Endpoint{URL: u}
	if frag == "" {
		return ep, nil
	}
	for _, t := range strings.Split(frag, "+") {
		if !validPattern(t) {
			return Endpoint{}, fmt.Errorf("events: endpoint %q: unknown event type %q", u, t)
		}
		ep.Types = append(ep.Types, t)
	}
	if len(ep.Types) > maxTypePatternsPerWebhook {
		return Endpoint{}, fmt.Errorf("events: endpoint %q: too many types", u)
	}
	return ep, nil
}

func validPattern(p string) bool {
	for _, t := range Types {
		if matches(p, t) {
			return true
		}
	}
	return false
}

func matches(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

// Wants reports whether the endpoint takes events of typ.
func (e Endpoint) Wants(typ string) bool {
	if len(e.Types) == 0 {
		return true
	}
	for _, p := range e.Types {
		if matches(p, typ) {
			return true
		}
	}
	return false
}
