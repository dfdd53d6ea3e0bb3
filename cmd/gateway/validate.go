package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/vodgate/vodgate/internal/server"
	"github.com/vodgate/vodgate/tusstore"
)

// Validation failures, wrapped in [ConfigError].
var (
	ErrRequired = errors.New("required")
	ErrInvalid  = errors.New("invalid")
	ErrRange    = errors.New("out of range")
)

// ConfigError reports an invalid configuration key.
type ConfigError struct {
	Field string // the key, e.g. "part-size"
	Value any
	Err   error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("config: %s: %v (got %v)", e.Field, e.Err, e.Value)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// vodCredentialLifetime is how long VOD upload credentials live.
const vodCredentialLifetime = 3000 * time.Second

// Validate checks c without I/O and returns every problem found, joined,
// each a *[ConfigError]. With Dev set, credentials and the VOD endpoint are
// filled by the dev stack and are not required.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, err error, format string, args ...any) {
		if format != "" {
			err = fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))
		}
		errs = append(errs, &ConfigError{Field: field, Value: value, Err: err})
	}
	addr := func(field, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			bad(field, v, ErrInvalid, "want host:port")
		}
	}
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, d, ErrRange, "must be positive")
		}
	}

	addr("listen", c.Listen)
	if !strings.HasPrefix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, "?#* ") {
		bad("base-path", c.BasePath, ErrInvalid, "want an absolute URL path such as /files/")
	}
	if c.PublicURL != "" {
		if _, err := server.ParsePublicURL(c.PublicURL); err != nil {
			bad("public-url", c.PublicURL, ErrInvalid, "%v", err)
		}
	}
	for _, o := range c.CORSOrigins {
		if err := server.ValidateOrigin(o); err != nil {
			bad("cors-origins", o, ErrInvalid, "%v", err)
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log-level", c.LogLevel, ErrInvalid, "want debug, info, warn or error")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"read-header-timeout", c.ReadHeaderTimeout}, {"idle-timeout", c.IdleTimeout},
		{"network-timeout", c.NetworkTimeout}, {"request-completion-timeout", c.RequestCompletionTimeout},
		{"acquire-lock-timeout", c.AcquireLockTimeout}, {"shutdown-timeout", c.ShutdownTimeout},
		{"lock-ttl", c.LockTTL}, {"vod-timeout", c.VODTimeout}, {"oss-timeout", c.OSSTimeout},
		{"expiration", c.Expiration},
	} {
		positive(d.field, d.v)
	}
	if c.ShutdownTimeout > 0 && c.ShutdownTimeout < c.RequestCompletionTimeout {
		bad("shutdown-timeout", c.ShutdownTimeout, ErrRange, "must be at least request-completion-timeout (%s) so interrupted uploads can be saved", c.RequestCompletionTimeout)
	}
	if c.LockTTL > 0 && c.LockTTL < 100*time.Millisecond {
		bad("lock-ttl", c.LockTTL, ErrRange, "must be at least 100ms")
	}

	if !c.Dev {
		// The same parser as at start-up, so Sentinel and Cluster URLs pass.
		if rdb, _, err := newRedis(c.RedisURL); err != nil {
			bad("redis-url", redactURL(c.RedisURL), ErrInvalid, "%v", err)
		} else {
			_ = rdb.Close() // newRedis does no I/O
		}
		if c.AccessKeyID == "" {
			bad("access-key-id", "", ErrRequired, "set %s (or use -dev)", EnvAccessKeyID)
		}
		if c.AccessKeySecret == "" {
			bad("access-key-secret", "", ErrRequired, "set %s (or use -dev)", EnvAccessKeySecret)
		}
	}
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, "{} ") {
		bad("redis-prefix", c.RedisPrefix, ErrInvalid, "must be non-empty without braces or spaces")
	}
	if c.VODRegion == "" {
		bad("vod-region", c.VODRegion, ErrRequired, "")
	}
	if c.VODEndpoint != "" && (strings.Contains(c.VODEndpoint, "://") || strings.ContainsAny(c.VODEndpoint, "/ ")) {
		bad("vod-endpoint", c.VODEndpoint, ErrInvalid, "want host[:port] without scheme or path")
	}
	if c.VODProtocol != "https" && c.VODProtocol != "http" {
		bad("vod-protocol", c.VODProtocol, ErrInvalid, "want https or http")
	}
	if c.VODMaxAttempts < 1 {
		bad("vod-max-attempts", c.VODMaxAttempts, ErrRange, "must be at least 1")
	}
	if c.OSSEndpoint != "" {
		if u, err := url.Parse(withScheme(c.OSSEndpoint)); err != nil || u.Host == "" {
			bad("oss-endpoint", c.OSSEndpoint, ErrInvalid, "want host or scheme://host")
		}
	}
	if c.OSSAttempts < 1 {
		bad("oss-attempts", c.OSSAttempts, ErrRange, "must be at least 1")
	}

	if c.PartSize < tusstore.MinPartSize || c.PartSize > tusstore.MaxPartSize {
		bad("part-size", c.PartSize, ErrRange, "must be within [%s, %s]", ByteSize(tusstore.MinPartSize), ByteSize(tusstore.MaxPartSize))
	}
	if c.MaxSize < 0 || c.MaxSize > tusstore.MaxObjectSize {
		bad("max-size", c.MaxSize, ErrRange, "must be within [0, %d] bytes", int64(tusstore.MaxObjectSize))
	}
	if c.BufferBudget < 2*c.PartSize {
		bad("buffer-budget", c.BufferBudget, ErrRange, "must hold at least two parts (2 x part-size = %s)", 2*c.PartSize)
	}
	if c.Expiration >= 7*24*time.Hour {
		bad("expiration", c.Expiration, ErrRange, "must stay below VOD's 7-day cleanup of unfinished parts")
	}
	if c.RefreshBefore < 0 || c.RefreshBefore >= vodCredentialLifetime {
		bad("refresh-before", c.RefreshBefore, ErrRange, "must be within [0, %s)", vodCredentialLifetime)
	}
	if c.DefaultCateID < 0 {
		bad("default-cate-id", c.DefaultCateID, ErrRange, "must not be negative")
	}

	c.validateGuard(bad)

	if c.Dev {
		addr("dev-oss-listen", c.DevOSSListen)
		addr("dev-vod-listen", c.DevVODListen)
		addr("dev-redis-listen", c.DevRedisListen)
		if c.DevDataDir == "" {
			bad("dev-data-dir", c.DevDataDir, ErrRequired, "")
		}
	}
	return errors.Join(errs...)
}

func withScheme(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "https://" + s
}

// redactURL hides the password of a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// LogValue lists every key, with credentials and the Redis password masked.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, k := range keys() {
		v := fieldValue{field(&c, k)}.String()
		switch {
		case k.name == "redis-url":
			v = redactURL(v)
		case !k.flag && k.name != "access-key-id" && v != "":
			v = server.Redacted
		}
		attrs = append(attrs, slog.String(k.name, v))
	}
	return slog.GroupValue(attrs...)
}

var _ slog.LogValuer = Config{}
