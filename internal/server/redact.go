package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces every masked value in log output.
const Redacted = "[REDACTED]"

// sensitiveKeys are substrings of attribute keys (lowercased, with "-" and
// "_" removed) whose string values are always masked.
var sensitiveKeys = [...]string{
	"secret", "token", "password", "passwd", "authorization", "uploadauth",
	"cookie", "credential", "signature", "apikey", "privatekey",
}

// secretShapes match secrets inside any string value, whatever its key;
// each match is replaced by repl (a regexp template).
var secretShapes = [...]struct {
	re   *regexp.Regexp
	repl string
}{
	// JWTs and base64-encoded JSON (VOD's UploadAuth and UploadAddress are
	// base64 JSON, which always starts with "eyJ").
	{regexp.MustCompile(`eyJ[A-Za-z0-9_\-+/=.]{12,}`), Redacted},
	// STS SecurityTokens ("CAIS..." followed by base64).
	{regexp.MustCompile(`CAIS[A-Za-z0-9+/=_\-]{16,}`), Redacted},
	// Bearer / Basic credentials in header-like text; the scheme stays.
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}`), "${1} " + Redacted},
	// key=value or key: value pairs in URLs and text; the key stays.
	{regexp.MustCompile(`(?i)(signature|security[-_]?token|access[-_]?key[-_]?secret|password|secret)(["']?\s*[=:]\s*["']?)[^\s&"',;}]+`), "${1}${2}" + Redacted},
}

// akSecret matches a standalone 30-character alphanumeric word, the shape of
// an Aliyun AccessKeySecret; it is masked only when it mixes upper case,
// lower case and digits, so hex IDs and words are left alone.
var akSecret = regexp.MustCompile(`\b[A-Za-z0-9]{30}\b`)

// Redact returns a [slog.Handler] that masks secrets before passing records
// to next: string values of sensitive keys (secret, token, password,
// authorization, upload-auth, security-token, cookie, ...) become
// [Redacted], and any string, error or Stringer value is scrubbed of
// substrings shaped like a JWT, base64 JSON, an STS SecurityToken, a bearer
// credential or an AccessKeySecret. Numbers and booleans are never masked.
// Redact is safe for concurrent use if next is.
func Redact(next slog.Handler) slog.Handler {
	return &redactHandler{next: next}
}

type redactHandler struct {
	next    slog.Handler
	pending []slog.Attr // attrs of WithAttrs, redacted and passed on only when a record is handled
	once    sync.Once
	built   slog.Handler
}

// handler returns next with the pending attrs applied (once).
func (h *redactHandler) handler() slog.Handler {
	if len(h.pending) == 0 {
		return h.next
	}
	h.once.Do(func() {
		red := make([]slog.Attr, len(h.pending))
		for i, a := range h.pending {
			red[i] = redactAttr(a)
		}
		h.built = h.next.WithAttrs(red)
	})
	return h.built
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.handler().Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	p := make([]slog.Attr, 0, len(h.pending)+len(as))
	return &redactHandler{next: h.next, pending: append(append(p, h.pending...), as...)}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.handler().WithGroup(name)}
}

// Scrub masks substrings of s that look like secrets (see [Redact]).
func Scrub(s string) string {
	if len(s) < 8 {
		return s
	}
	for _, sh := range secretShapes {
		s = sh.re.ReplaceAllString(s, sh.repl)
	}
	return akSecret.ReplaceAllStringFunc(s, func(m string) string {
		if strings.ContainsAny(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(m, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(m, "0123456789") {
			return Redacted
		}
		return m
	})
}

func sensitiveKey(k string) bool {
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	for _, s := range sensitiveKeys {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			if sensitiveKey(a.Key) {
				ga = slog.String(ga.Key, Redacted)
			}
			red[i] = redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindString:
		if sensitiveKey(a.Key) {
			return slog.String(a.Key, maskNonEmpty(v.String()))
		}
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindAny:
		if m, ok := v.Any().(map[string]string); ok {
			return redactAttr(slog.Attr{Key: a.Key, Value: stringMapValue(m)})
		}
		s, ok := anyString(v.Any())
		if !ok {
			if sensitiveKey(a.Key) {
				return slog.String(a.Key, Redacted)
			}
			return slog.Attr{Key: a.Key, Value: v}
		}
		if sensitiveKey(a.Key) {
			return slog.String(a.Key, maskNonEmpty(s))
		}
		return slog.String(a.Key, Scrub(s))
	default: // numbers, booleans, durations, times
		return slog.Attr{Key: a.Key, Value: v}
	}
}

// anyString renders values whose text form is what a JSON handler would
// print anyway (errors, Stringers, byte slices).
func anyString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case error:
		return x.Error(), true
	case fmt.Stringer:
		return x.String(), true
	case []byte:
		return string(x), true
	case []string:
		return strings.Join(x, ","), true
	}
	return "", false
}

func stringMapValue(m map[string]string) slog.Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	as := make([]slog.Attr, len(keys))
	for i, k := range keys {
		as[i] = slog.String(k, m[k])
	}
	return slog.GroupValue(as...)
}

func maskNonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// NewLogger returns a JSON logger writing to w at level, with [Redact]
// applied. The level accepts slog names: debug, info, warn, error.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("server: log level %q: %w", level, err)
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})
	return slog.New(Redact(h)), nil
}
