package locker

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults applied by [New] to zero Config fields.
const (
	DefaultPrefix     = "vodgate"
	DefaultTTL        = 5 * time.Second
	DefaultRetryEvery = 50 * time.Millisecond
)

const (
	// fenceTTL is how long a fence key outlives the last acquisition of its
	// upload. Tokens stay monotonic past its expiry because a missing fence
	// key is re-seeded from the clock (see doc.go).
	fenceTTL = 7 * 24 * time.Hour
	// requestEvery is how often a waiting Lock re-publishes its release
	// request, in case the holder missed it (pub/sub reconnect) or a new
	// holder took the lock meanwhile.
	requestEvery = 500 * time.Millisecond
	// minTTL keeps the renewal arithmetic meaningful.
	minTTL = 10 * time.Millisecond
)

// Config configures a [Locker]. The zero value is valid: every field has a
// default.
type Config struct {
	// Prefix starts every key and channel name, as in "vodgate:{id}:lock".
	// It must not contain '{' or '}'. Default: "vodgate".
	Prefix string
	// TTL is the lifetime of a lock key in Redis without renewal: a holder
	// that dies blocks its upload for at most TTL. Default: 5s.
	TTL time.Duration
	// RenewEvery is how often a held lock's TTL is extended. It must be less
	// than TTL. If zero, TTL/3.
	RenewEvery time.Duration
	// RetryEvery is how often a waiting Lock retries when no release
	// notification arrives. Default: 50ms.
	RetryEvery time.Duration
	// Logger receives the locker's events. If nil, slog.Default().
	Logger *slog.Logger
	// TracerProvider, if set, gets a "lock acquire" span for each Lock
	// below the caller's span. If nil, nothing is traced.
	TracerProvider trace.TracerProvider
}

// setDefaults fills zero fields and replaces invalid ones with defaults, so
// that [New], which cannot fail, always works with a usable configuration.
func (c *Config) setDefaults() {
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, "{}") {
		c.Prefix = DefaultPrefix
	}
	if c.TTL < minTTL {
		c.TTL = DefaultTTL
	}
	if c.RenewEvery <= 0 || c.RenewEvery >= c.TTL {
		c.RenewEvery = c.TTL / 3
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = DefaultRetryEvery
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first invalid field of c (zero fields are valid: they
// take defaults). It does no I/O. [New] replaces invalid fields with defaults
// instead of failing, so callers that want to reject bad configuration call
// Validate first.
func (c Config) Validate() error {
	switch {
	case strings.ContainsAny(c.Prefix, "{}"):
		return fmt.Errorf("locker: prefix %q must not contain braces: %w", c.Prefix, ErrInvalidConfig)
	case c.TTL != 0 && c.TTL < minTTL:
		return fmt.Errorf("locker: ttl %s is below %s: %w", c.TTL, minTTL, ErrInvalidConfig)
	case c.RenewEvery < 0:
		return fmt.Errorf("locker: renew-every %s is negative: %w", c.RenewEvery, ErrInvalidConfig)
	case c.RetryEvery < 0:
		return fmt.Errorf("locker: retry-every %s is negative: %w", c.RetryEvery, ErrInvalidConfig)
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if c.RenewEvery >= ttl {
		return fmt.Errorf("locker: renew-every %s must be less than ttl %s: %w", c.RenewEvery, ttl, ErrInvalidConfig)
	}
	return nil
}
