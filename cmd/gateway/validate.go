package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/vodgate/vodgate/internal/events"
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
	if c.OSSParallelParts < 1 {
		bad("oss-parallel-parts", c.OSSParallelParts, ErrRange, "must be at least 1")
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

	if !strings.HasPrefix(c.APIBasePath, "/") || strings.ContainsAny(c.APIBasePath, "?#*{} ") ||
		strings.Trim(c.APIBasePath, "/") == "" || strings.Trim(c.APIBasePath, "/") == strings.Trim(c.BasePath, "/") {
		bad("api-base-path", c.APIBasePath, ErrInvalid, "want an absolute URL path such as /uploads, other than base-path")
	}
	if c.ExpiredMedia != "delete" && c.ExpiredMedia != "keep" {
		bad("expired-media", c.ExpiredMedia, ErrInvalid, "want delete or keep")
	}
	positive("history-ttl", c.HistoryTTL)
	positive("stall-after", c.StallAfter)
	positive("reaper-interval", c.ReaperInterval)
	for _, u := range c.WebhookURL {
		if _, err := events.ParseEndpoint(u); err != nil {
			bad("webhook-url", u, ErrInvalid, "%v", err)
		}
	}
	if len(c.WebhookURL) > 0 && c.WebhookSecretFile == "" {
		bad("webhook-secret-file", "", ErrRequired, "webhook-url needs a signing secret")
	}
	if c.VODCallbackKeyFile != "" && len(c.WebhookURL) == 0 {
		bad("vod-callback-key-file", c.VODCallbackKeyFile, ErrInvalid, "relaying VOD callbacks needs webhook-url")
	}
	if !strings.HasPrefix(c.VODCallbackPath, "/") || strings.ContainsAny(c.VODCallbackPath, "?#*{} ") {
		bad("vod-callback-path", c.VODCallbackPath, ErrInvalid, "want an absolute URL path such as /vod/callback")
	}
	positive("webhook-max-age", c.WebhookMaxAge)
	positive("webhook-retry-base", c.WebhookRetryBase)
	if c.WebhookConcurrency < 1 || c.WebhookConcurrency > 256 {
		bad("webhook-concurrency", c.WebhookConcurrency, ErrRange, "must be within [1, 256]")
	}
	for _, q := range []struct {
		field string
		v     float64
	}{{"vod-quota-create-qps", c.VODQuotaCreateQPS}, {"vod-quota-delete-qps", c.VODQuotaDeleteQPS}, {"vod-quota-other-qps", c.VODQuotaOtherQPS}} {
		if q.v < 0 || q.v > 100000 {
			bad(q.field, q.v, ErrRange, "must be within [0, 100000]")
		}
	}
	positive("vod-quota-wait", c.VODQuotaWait)
	positive("idempotency-ttl", c.IdempotencyTTL)
	positive("idempotency-stale-after", c.IdempotencyStaleAfter)
	if c.ReaperVODQPS <= 0 {
		bad("reaper-vod-qps", c.ReaperVODQPS, ErrRange, "must be positive")
	}
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		bad("tls-key-file", c.TLSKeyFile, ErrRequired, "tls-cert-file needs its key")
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		bad("tls-cert-file", c.TLSCertFile, ErrRequired, "tls-key-file needs its certificate")
	}
	if c.HTTP3 && c.TLSCertFile == "" && len(c.ACMEDomains) == 0 {
		bad("http3", c.HTTP3, ErrInvalid, "HTTP/3 needs TLS: set tls-cert-file and tls-key-file, or acme-domains")
	}
	if len(c.ACMEDomains) > 0 {
		if c.TLSCertFile != "" || c.TLSKeyFile != "" {
			bad("acme-domains", c.ACMEDomains, ErrInvalid, "either acme-domains or tls-cert-file/tls-key-file")
		}
		if u, err := url.Parse(c.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme-ca", c.ACMECA, ErrInvalid, "want an https:// ACME directory URL")
		}
		if c.ACMEStorage == "" {
			bad("acme-storage", c.ACMEStorage, ErrRequired, "redis or a directory")
		}
		for _, d := range c.ACMEDomains {
			if d == "" || strings.ContainsAny(d, "/: ") {
				bad("acme-domains", d, ErrInvalid, "want host names")
			}
		}
	}

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
