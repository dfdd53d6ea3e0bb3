package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Defaults: the parameters below apply when their Config field is zero;
// the limits (Default*Bytes, DefaultMinSpeed) are what cmd/gateway
// configures unless told otherwise, a zero limit being off.
const (
	DefaultPrefix           = "vodgate"
	DefaultWindow           = time.Minute
	DefaultUploadIdle       = time.Hour
	DefaultRedisTimeout     = 500 * time.Millisecond
	DefaultBasePath         = "/files/"
	DefaultMaxHeaderBytes   = 32 << 10
	DefaultMaxMetadataBytes = 8 << 10
	DefaultMinSpeed         = 1 << 10 // bytes per second
	DefaultMinSpeedWindow   = 30 * time.Second
)

// Errors answered by the limiter; messages are replaced by specifics.
var (
	ErrRateLimited     = handler.NewError("ERR_RATE_LIMITED", "too many requests", http.StatusTooManyRequests)
	ErrTooManyUploads  = handler.NewError("ERR_TOO_MANY_UPLOADS", "too many unfinished uploads", http.StatusTooManyRequests)
	ErrLimitsUnavaible = handler.NewError("ERR_LIMITS_UNAVAILABLE", "request limits cannot be checked, retry later", http.StatusServiceUnavailable)
)

// Config configures a [Limiter]. Every limit is off when zero.
type Config struct {
	// Prefix starts every Redis key. Default: vodgate.
	Prefix string
	// BasePath is the tus endpoint's path, to find upload IDs in request
	// paths. Default: /files/.
	BasePath string
	// Window is the period of the request-rate limits; rates are counted
	// over a sliding Window. Default: 1m.
	Window time.Duration
	// IPRequests caps tus requests per client IP per Window.
	IPRequests int
	// OwnerRequests caps tus requests per authenticated owner per Window.
	OwnerRequests int
	// OwnerCreates caps upload creations per owner per Window.
	OwnerCreates int
	// OwnerUploads caps an owner's unfinished uploads (see the package
	// documentation for how they are counted).
	OwnerUploads int
	// UploadIdle is how long an upload without a successful PATCH keeps
	// counting against OwnerUploads. Default: 1h.
	UploadIdle time.Duration
	// FailClosed answers 503 when Redis cannot be asked; by default
	// requests are let through (and the failure logged and counted).
	FailClosed bool
	// RedisTimeout bounds each Redis call. Default: 500ms.
	RedisTimeout time.Duration
	// MaxHeaderBytes caps the request headers (431).
	MaxHeaderBytes int
	// MaxMetadataBytes caps the Upload-Metadata header (400).
	MaxMetadataBytes int
	// MinSpeed (bytes/s) is the slowest request body accepted, averaged
	// over MinSpeedWindow of waiting for data (408 and the connection
	// closed).
	MinSpeed int64
	// MinSpeedWindow is the averaging window of MinSpeed. Default: 30s.
	MinSpeedWindow time.Duration
	// BodyIdleTimeout cuts a request body (408) after this long without
	// a byte.
	BodyIdleTimeout time.Duration
	// BehindProxy takes the client IP from the last X-Forwarded-For
	// address (the one the proxy in front added) instead of the peer.
	BehindProxy bool
	// OwnerOf returns the authenticated owner of a request (auth.OwnerOf).
	// If nil, owner limits are off.
	OwnerOf func(ctx context.Context) (string, bool)
	// Clock returns the time. Default: time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if !strings.HasSuffix(c.BasePath, "/") {
		c.BasePath += "/"
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.UploadIdle <= 0 {
		c.UploadIdle = DefaultUploadIdle
	}
	if c.RedisTimeout <= 0 {
		c.RedisTimeout = DefaultRedisTimeout
	}
	if c.MinSpeedWindow <= 0 {
		c.MinSpeedWindow = DefaultMinSpeedWindow
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate checks c without I/O.
func (c *Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"ip requests", int64(c.IPRequests)}, {"owner requests", int64(c.OwnerRequests)},
		{"owner creates", int64(c.OwnerCreates)}, {"owner uploads", int64(c.OwnerUploads)},
		{"max header bytes", int64(c.MaxHeaderBytes)}, {"max metadata bytes", int64(c.MaxMetadataBytes)},
		{"min speed", c.MinSpeed}, {"body idle timeout", int64(c.BodyIdleTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("limits: %s must not be negative", f.name))
		}
	}
	if c.Window != 0 && c.Window < time.Second {
		errs = append(errs, errors.New("limits: window must be at least 1s"))
	}
	if c.MinSpeedWindow != 0 && c.MinSpeedWindow < 100*time.Millisecond {
		errs = append(errs, errors.New("limits: min speed window must be at least 100ms"))
	}
	if strings.ContainsAny(c.Prefix, "{} ") {
		errs = append(errs, errors.New("limits: prefix must not contain braces or spaces"))
	}
	return errors.Join(errs...)
}

// Limiter enforces request limits. Build it with [New]; it is safe for
// concurrent use.
type Limiter struct {
	cfg       Config
	rdb       redis.UniversalClient
	log       *slog.Logger
	metrics   *metrics
	lastWarn  atomic.Int64 // unix ns of the last Redis failure logged
	needRedis bool
}

// New builds a Limiter on rdb (nil if no Redis-backed limit is set). It
// does no I/O.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, rdb: rdb, log: cfg.Logger.With("component", "limits"), metrics: newMetrics()}
	l.needRedis = cfg.IPRequests > 0 || (cfg.OwnerOf != nil && (cfg.OwnerRequests > 0 || cfg.OwnerCreates > 0 || cfg.OwnerUploads > 0))
	if l.needRedis && rdb == nil {
		return nil, errors.New("limits: rate and upload limits need a Redis client")
	}
	return l, nil
}

// Request applies the checks that need no caller, before authentication:
// header and metadata size, the per-IP rate, and the body speed of POST
// and PATCH. OPTIONS requests pass.
func (l *Limiter) Request(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := effectiveMethod(r)
		if method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if max := l.cfg.MaxHeaderBytes; max > 0 {
			if n := headerBytes(r.Header); n > max {
				l.refuse(w, r, "header_size", withMessage(ErrHeadersTooLarge, fmt.Sprintf("request headers are %d bytes, over %d", n, max)))
				return
			}
		}
		if err := checkMetadata(r.Header.Get("Upload-Metadata"), l.cfg.MaxMetadataBytes); err != nil {
			reason := "metadata_invalid"
			if errors.Is(*err, ErrMetadataTooLarge) {
				reason = "metadata_size"
			}
			l.refuse(w, r, reason, *err)
			return
		}
		if l.cfg.IPRequests > 0 {
			if !l.check(w, r, "rate_ip", func(ctx context.Context) (verdict, error) {
				return l.allow(ctx, "ip:"+l.clientIP(r), "req", l.cfg.IPRequests)
			}) {
				return
			}
		}
		if (l.cfg.MinSpeed > 0 || l.cfg.BodyIdleTimeout > 0) && hasBody(r) && (method == http.MethodPatch || method == http.MethodPost) {
			m := newMeter(r.Body, l.cfg.MinSpeed, l.cfg.MinSpeedWindow, l.cfg.BodyIdleTimeout, l.cfg.Clock)
			rc := http.NewResponseController(w)
			m.unblock = func() { _ = rc.SetReadDeadline(time.Now()) }
			m.onCut = func(reason string) {
				l.metrics.rejections.WithLabelValues(reason).Inc()
				l.log.InfoContext(ctx, "RequestBodyCut", "reason", reason, "path", r.URL.Path, "remote", r.RemoteAddr)
			}
			r.Body = m
			m.start()
			defer m.stop()
		}
		next.ServeHTTP(w, r)
	})
}

// Caller applies the per-owner checks, after authentication: the request
// and creation rates, and unfinished uploads. Requests without an owner
// pass.
func (l *Limiter) Caller(next http.Handler) http.Handler {
	if l.cfg.OwnerOf == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := effectiveMethod(r)
		owner, ok := l.cfg.OwnerOf(r.Context())
		if method == http.MethodOptions || !ok {
			next.ServeHTTP(w, r)
			return
		}
		if l.cfg.OwnerRequests > 0 && !l.check(w, r, "rate_owner", func(ctx context.Context) (verdict, error) {
			return l.allow(ctx, "o:"+owner, "req", l.cfg.OwnerRequests)
		}) {
			return
		}
		id := l.uploadID(r.URL.Path)
		creating := method == http.MethodPost && id == ""
		if creating && l.cfg.OwnerCreates > 0 && !l.check(w, r, "rate_creates", func(ctx context.Context) (verdict, error) {
			return l.allow(ctx, "o:"+owner, "new", l.cfg.OwnerCreates)
		}) {
			return
		}
		if l.cfg.OwnerUploads <= 0 || (!creating && method != http.MethodPatch && method != http.MethodDelete) {
			next.ServeHTTP(w, r)
			return
		}
		if creating {
			l.create(w, r, owner, next)
			return
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		ctx, cancel := l.redisCtx(r.Context())
		defer cancel()
		var err error
		switch {
		case method == http.MethodPatch && rec.status == http.StatusNoContent:
			err = l.touch(ctx, owner, id)
		case method == http.MethodDelete && rec.status == http.StatusNoContent:
			err = l.release(ctx, owner, id)
		}
		if err != nil {
			l.redisFailed(r.Context(), err)
		}
	})
}

// create reserves a slot for a creation, then confirms it under the new
// upload's ID or releases it.
func (l *Limiter) create(w http.ResponseWriter, r *http.Request, owner string, next http.Handler) {
	var member string
	if !l.check(w, r, "concurrent_uploads", func(ctx context.Context) (verdict, error) {
		m, v, err := l.reserve(ctx, owner)
		member = m
		return v, err
	}) {
		return
	}
	c := &creation{}
	rec := &recorder{ResponseWriter: w}
	next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), creationKey{}, c)))
	if member == "" { // Redis failed open
		return
	}
	ctx, cancel := l.redisCtx(r.Context())
	defer cancel()
	id := idFromLocation(rec.Header().Get("Location"), l.cfg.BasePath)
	var err error
	if rec.status == http.StatusCreated && id != "" && !c.finished {
		err = l.confirm(ctx, owner, member, id)
	} else {
		err = l.release(ctx, owner, member)
	}
	if err != nil {
		l.redisFailed(r.Context(), err)
	}
}

// check runs a Redis-backed limit: it answers 429 (or 503 when Redis
// fails and FailClosed is set) and returns false when the request must
// stop.
func (l *Limiter) check(w http.ResponseWriter, r *http.Request, reason string, fn func(context.Context) (verdict, error)) bool {
	ctx, cancel := l.redisCtx(r.Context())
	v, err := fn(ctx)
	cancel()
	if err != nil {
		l.redisFailed(r.Context(), err)
		if l.cfg.FailClosed {
			l.refuse(w, r, "redis_unavailable", retryAfter503(ErrLimitsUnavaible))
			return false
		}
		return true
	}
	if v.allowed {
		return true
	}
	base := ErrRateLimited
	msg := "too many requests, retry later"
	switch reason {
	case "rate_ip":
		msg = fmt.Sprintf("too many requests from this address (limit %d per %s)", l.cfg.IPRequests, l.cfg.Window)
	case "rate_owner":
		msg = fmt.Sprintf("too many requests for this account (limit %d per %s)", l.cfg.OwnerRequests, l.cfg.Window)
	case "rate_creates":
		msg = fmt.Sprintf("too many uploads created (limit %d per %s)", l.cfg.OwnerCreates, l.cfg.Window)
	case "concurrent_uploads":
		base = ErrTooManyUploads
		msg = fmt.Sprintf("too many unfinished uploads (limit %d); finish or delete one first", l.cfg.OwnerUploads)
	}
	e := withMessage(base, msg)
	e.HTTPResponse.Header["Retry-After"] = strconv.Itoa(int(math.Ceil(max(v.retryAfter, time.Second).Seconds())))
	l.refuse(w, r, reason, e)
	return false
}

func retryAfter503(e handler.Error) handler.Error {
	e = withMessage(e, e.Message)
	e.HTTPResponse.Header["Retry-After"] = "5"
	return e
}

func (l *Limiter) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), l.cfg.RedisTimeout)
}

// redisFailed counts a Redis failure and logs it at most every 10s.
func (l *Limiter) redisFailed(ctx context.Context, err error) {
	l.metrics.redisErrors.Inc()
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(10*time.Second) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.WarnContext(ctx, "LimitsRedisFailed", "error", err, "failClosed", l.cfg.FailClosed)
}

// refuse answers e in tusd's error format and counts reason.
func (l *Limiter) refuse(w http.ResponseWriter, r *http.Request, reason string, e handler.Error) {
	l.metrics.rejections.WithLabelValues(reason).Inc()
	l.log.InfoContext(r.Context(), "RequestLimited", "reason", reason, "method", effectiveMethod(r),
		"path", r.URL.Path, "remote", r.RemoteAddr)
	h := w.Header()
	for k, v := range e.HTTPResponse.Header {
		h.Set(k, v)
	}
	body := e.HTTPResponse.Body
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if e.HTTPResponse.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		h.Set("Connection", "close")
	}
	w.WriteHeader(e.HTTPResponse.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// safeSubject matches identifiers used verbatim in keys.
var safeSubject = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)

// key returns the key base of a subject ("ip:<addr>" or "o:<owner>"),
// hash-tagged so one subject's keys share a Cluster slot. Subjects that
// are long or carry other characters are hashed.
func (l *Limiter) key(subject string) string {
	if !safeSubject.MatchString(subject) {
		sum := sha256.Sum256([]byte(subject))
		kind, _, _ := strings.Cut(subject, ":")
		subject = kind + ":h" + hex.EncodeToString(sum[:16])
	}
	return l.cfg.Prefix + ":limit:{" + subject + "}"
}

// clientIP is the peer address, or behind a proxy the last
// X-Forwarded-For entry.
func (l *Limiter) clientIP(r *http.Request) string {
	if l.cfg.BehindProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// effectiveMethod is the method tusd acts on (see X-HTTP-Method-Override).
func effectiveMethod(r *http.Request) string {
	if o := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && o != "" {
		return o
	}
	return r.Method
}

// uploadID returns the upload ID of a request path, "" for the creation
// endpoint (with or without its trailing slash, before or after the base
// path is stripped).
func (l *Limiter) uploadID(path string) string {
	if rest, ok := strings.CutPrefix(path, l.cfg.BasePath); ok {
		path = rest
	} else if path == strings.TrimSuffix(l.cfg.BasePath, "/") {
		path = ""
	}
	return strings.Trim(path, "/")
}

// idFromLocation returns the upload ID of an upload URL under basePath.
func idFromLocation(loc, basePath string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(u.Path, basePath)
	if !ok {
		return ""
	}
	return strings.Trim(rest, "/")
}

// recorder notes the status a handler answered with.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
