package vodbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	DefaultRegion             = "cn-shanghai"
	DefaultProtocol           = "https"
	DefaultTimeout            = 10 * time.Second
	DefaultMaxAttempts        = 3
	DefaultCredentialLifetime = 3000 * time.Second
	// DefaultBackoffBase and DefaultBackoffMax bound the exponential backoff
	// between attempts: base·2^(n-1), capped, with jitter.
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffMax  = 2 * time.Second
)

// Quota paces calls to VOD; internal/vodquota implements it.
type Quota interface {
	// Wait blocks until a call of action op may be made, or fails.
	Wait(ctx context.Context, op string) error
	// Throttled reports that VOD answered op with a throttling error.
	Throttled(ctx context.Context, op string)
}

// Config configures a [Client]. The zero value is not usable: AccessKeyID and
// AccessKeySecret are required. vodbridge never reads the environment; the
// caller (cmd/gateway) fills the credentials from ALIBABA_CLOUD_*.
type Config struct {
	// AccessKeyID and AccessKeySecret are the gateway's own RAM AccessKey
	// (needs vod:CreateUploadVideo, vod:CreateUploadImage,
	// vod:CreateUploadAttachedMedia, vod:RefreshUploadVideo, vod:DeleteVideo,
	// vod:DeleteImage, vod:DeleteAttachedMedia, vod:DeleteMultipartUpload).
	// Required.
	AccessKeyID, AccessKeySecret string
	// SecurityToken is set when the AccessKey is an STS credential. If empty,
	// the AccessKey is long-lived.
	SecurityToken string
	// Region is the VOD region id, e.g. "cn-shanghai". Default: "cn-shanghai".
	Region string
	// Endpoint is host[:port] of the VOD API, without a scheme. If empty, the
	// SDK derives it from Region: vod.<region>.aliyuncs.com, except for the
	// SDK's endpoint map (cn-hangzhou -> vod.cn-shanghai.aliyuncs.com, several
	// others -> vod.aliyuncs.com).
	Endpoint string
	// Protocol is "https" or "http" (tests and simulators). Default: "https".
	Protocol string
	// Timeout bounds each attempt (connect, request and response). The
	// caller's ctx bounds the whole call including retries. Default: 10s.
	Timeout time.Duration
	// MaxAttempts is the maximum number of attempts per call, including the
	// first. 1 disables retries. Default: 3.
	MaxAttempts int
	// CredentialLifetime caps the lifetime assumed for an upload credential:
	// Credential.Expires = min(ExpireUTCTime, issue time + CredentialLifetime).
	// Default: 3000s (VOD's documented lifetime).
	CredentialLifetime time.Duration
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// Logger receives retry warnings and debug call records. Secrets are never
	// logged. Default: slog.Default().
	Logger *slog.Logger
	// TracerProvider, if set, gets a client span "vod <Action>" per API
	// call (retries are events on it) below the caller's span. If nil,
	// nothing is traced.
	TracerProvider trace.TracerProvider
	// Quota, if set, admits every attempt of a VOD call (e.g. a token
	// bucket per account shared by all instances) and hears of every
	// throttling answer. An attempt it refuses fails with ErrThrottled.
	Quota Quota
}

// Sentinels carried by [ConfigError].
var (
	ErrRequired     = errors.New("is required")
	ErrInvalidValue = errors.New("is invalid")
)

// ConfigError reports an invalid [Config] field. Value is never a secret.
type ConfigError struct {
	Field string // Config field name, e.g. "Protocol"
	Value string // offending value (empty for secrets and missing values)
	Err   error  // ErrRequired or ErrInvalidValue, possibly wrapped with detail
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("vodbridge: config %s %v", e.Field, e.Err)
	}
	return fmt.Sprintf("vodbridge: config %s %q %v", e.Field, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// withDefaults returns a copy of c with zero values replaced by defaults and
// strings normalised. It does no validation.
func (c Config) withDefaults() Config {
	c.AccessKeyID = strings.TrimSpace(c.AccessKeyID)
	c.AccessKeySecret = strings.TrimSpace(c.AccessKeySecret)
	c.SecurityToken = strings.TrimSpace(c.SecurityToken)
	c.Region = strings.TrimSpace(c.Region)
	c.Endpoint = strings.TrimSpace(c.Endpoint)
	c.Protocol = strings.ToLower(strings.TrimSpace(c.Protocol))
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.CredentialLifetime == 0 {
		c.CredentialLifetime = DefaultCredentialLifetime
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks c after defaults are applied and returns a *ConfigError for
// the first invalid field. It does no I/O.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, value string, err error) error {
		return &ConfigError{Field: field, Value: value, Err: err}
	}
	switch {
	case c.AccessKeyID == "":
		return bad("AccessKeyID", "", ErrRequired)
	case c.AccessKeySecret == "":
		return bad("AccessKeySecret", "", ErrRequired)
	case !validRegion(c.Region):
		return bad("Region", c.Region, fmt.Errorf("%w: want a region id such as cn-shanghai", ErrInvalidValue))
	case strings.Contains(c.Endpoint, "://"), strings.ContainsAny(c.Endpoint, "/?# "):
		return bad("Endpoint", c.Endpoint, fmt.Errorf("%w: want host[:port] without scheme or path", ErrInvalidValue))
	case c.Protocol != "https" && c.Protocol != "http":
		return bad("Protocol", c.Protocol, fmt.Errorf("%w: want https or http", ErrInvalidValue))
	case c.Timeout < 0:
		return bad("Timeout", c.Timeout.String(), fmt.Errorf("%w: must not be negative", ErrInvalidValue))
	case c.Timeout < time.Millisecond:
		return bad("Timeout", c.Timeout.String(), fmt.Errorf("%w: must be at least 1ms", ErrInvalidValue))
	case c.MaxAttempts < 0:
		return bad("MaxAttempts", fmt.Sprint(c.MaxAttempts), fmt.Errorf("%w: must not be negative", ErrInvalidValue))
	case c.CredentialLifetime < 0:
		return bad("CredentialLifetime", c.CredentialLifetime.String(), fmt.Errorf("%w: must not be negative", ErrInvalidValue))
	}
	return nil
}

func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for _, ch := range r {
		if (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') && ch != '-' {
			return false
		}
	}
	return true
}
