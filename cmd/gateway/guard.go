package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/limits"
)

// guard is the authentication and limits wiring around the tus handler.
type guard struct {
	auth   *auth.Authenticator
	limits *limits.Limiter
}

// middleware is server.Config.TusMiddleware: limits that need no caller,
// then authentication, then the per-owner limits.
func (g *guard) middleware(next http.Handler) http.Handler {
	return g.limits.Request(g.auth.Middleware(g.limits.Caller(next)))
}

// buildGuard reads the key files and builds the authenticator and the
// limiter; readFile is os.ReadFile in main.
func buildGuard(cfg Config, rdb redis.UniversalClient, readFile func(string) ([]byte, error),
	reg prometheus.Registerer, logger *slog.Logger) (*guard, error) {
	acfg := auth.Config{
		JWKSURL: cfg.AuthJWKSURL, Issuer: cfg.AuthJWTIssuer, Audience: cfg.AuthJWTAudience,
		Algorithms: cfg.AuthJWTAlgorithms, Leeway: leeway(cfg.AuthJWTLeeway), JWKSRefresh: cfg.AuthJWKSRefresh,
		Hook: auth.HookConfig{URL: cfg.AuthHookURL, Timeout: cfg.AuthHookTimeout, Attempts: cfg.AuthHookAttempts,
			Headers: cfg.AuthHookHeaders},
		Logger: logger,
	}
	var err error
	if cfg.AuthJWTSecretFile != "" {
		if acfg.JWTSecret, err = readSecret(readFile, "auth-jwt-secret-file", cfg.AuthJWTSecretFile); err != nil {
			return nil, err
		}
	}
	if cfg.AuthHookSecretFile != "" {
		if acfg.Hook.Secret, err = readSecret(readFile, "auth-hook-secret-file", cfg.AuthHookSecretFile); err != nil {
			return nil, err
		}
	}
	if cfg.AuthUploadTokenKeyFile != "" {
		if acfg.UploadTokenKeys, err = readKeys(readFile, "auth-upload-token-key-file", cfg.AuthUploadTokenKeyFile); err != nil {
			return nil, err
		}
	}
	a, err := auth.New(acfg)
	if err != nil {
		return nil, err
	}
	if !a.Enabled() {
		logger.Warn("AuthDisabled", "message", "no auth-jwt-secret-file, auth-jwks-url or auth-upload-token-key-file: "+
			"anyone who can reach the gateway may upload, and uploads have no owner")
	}
	l, err := limits.New(rdb, limits.Config{
		Prefix: cfg.RedisPrefix, BasePath: cfg.BasePath, Window: cfg.LimitWindow,
		IPRequests: cfg.LimitIPRequests, OwnerRequests: cfg.LimitOwnerRequests, OwnerCreates: cfg.LimitOwnerCreates,
		OwnerUploads: cfg.LimitOwnerUploads, UploadIdle: cfg.LimitUploadIdle, FailClosed: cfg.LimitFailClosed,
		MaxHeaderBytes: int(cfg.LimitHeaderBytes), MaxMetadataBytes: int(cfg.LimitMetadataBytes),
		MinSpeed: int64(cfg.LimitMinSpeed), MinSpeedWindow: cfg.LimitMinSpeedWindow,
		BodyIdleTimeout: cfg.LimitBodyIdleTimeout, BehindProxy: cfg.BehindProxy,
		OwnerOf: auth.OwnerOf, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	if err := a.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := l.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &guard{auth: a, limits: l}, nil
}

// readSecret reads a one-secret file, trimming surrounding whitespace.
// Errors name the key and the file, never the content.
func readSecret(readFile func(string) ([]byte, error), key, path string) ([]byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < auth.MinKeyBytes {
		return nil, fmt.Errorf("%s: %s holds %d bytes, want at least %d", key, path, len(b), auth.MinKeyBytes)
	}
	return b, nil
}

// readKeys reads upload token keys, one per line; blank lines and lines
// starting with # are skipped. A key is the line's bytes as written.
// readKeys reads a file of keys, one per line (blank lines and # comments
// skipped), each at least auth.MinKeyBytes long; key names the config key
// in errors.
func readKeys(readFile func(string) ([]byte, error), key, path string) ([][]byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var keys [][]byte
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if len(line) < auth.MinKeyBytes {
			return nil, fmt.Errorf("%s: %s line %d holds %d bytes, want at least %d", key, path, i+1, len(line), auth.MinKeyBytes)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %s holds no key", key, path)
	}
	return keys, nil
}

// validateGuard checks the auth-* and limit-* keys without I/O.
func (c *Config) validateGuard(bad func(field string, value any, err error, format string, args ...any)) {
	for _, u := range []struct{ field, v string }{{"auth-jwks-url", c.AuthJWKSURL}, {"auth-hook-url", c.AuthHookURL}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			bad(u.field, u.v, ErrInvalid, "want an http or https URL")
		}
	}
	for _, a := range c.AuthJWTAlgorithms {
		if !slices.Contains([]string{auth.AlgHS256, auth.AlgRS256, auth.AlgES256}, a) {
			bad("auth-jwt-algorithms", a, ErrInvalid, "want HS256, RS256 or ES256")
		}
	}
	if c.AuthJWTLeeway < 0 {
		bad("auth-jwt-leeway", c.AuthJWTLeeway, ErrRange, "must not be negative")
	}
	if c.AuthHookAttempts < 1 {
		bad("auth-hook-attempts", c.AuthHookAttempts, ErrRange, "must be at least 1")
	}
	for _, n := range []struct {
		field string
		v     int
	}{
		{"limit-ip-requests", c.LimitIPRequests}, {"limit-owner-requests", c.LimitOwnerRequests},
		{"limit-owner-creates", c.LimitOwnerCreates}, {"limit-owner-uploads", c.LimitOwnerUploads},
	} {
		if n.v < 0 {
			bad(n.field, n.v, ErrRange, "must not be negative (0: no limit)")
		}
	}
	if c.LimitWindow < time.Second {
		bad("limit-window", c.LimitWindow, ErrRange, "must be at least 1s")
	}
	if c.LimitMinSpeed > 0 && c.LimitMinSpeedWindow < 100*time.Millisecond {
		bad("limit-min-speed-window", c.LimitMinSpeedWindow, ErrRange, "must be at least 100ms")
	}
	if c.LimitBodyIdleTimeout < 0 {
		bad("limit-body-idle-timeout", c.LimitBodyIdleTimeout, ErrRange, "must not be negative (0: off)")
	}
}

// leeway passes an explicit zero auth-jwt-leeway on as "none" (auth reads
// zero as its default).
func leeway(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
