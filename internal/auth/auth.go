package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vodgate/vodgate/tusstore"
)

// Defaults applied by [New] when a [Config] field is zero.
const (
	DefaultLeeway         = 30 * time.Second
	DefaultJWKSRefresh    = 15 * time.Minute
	DefaultJWKSMinRefresh = 30 * time.Second
	DefaultRealm          = "vodgate"
	DefaultHTTPTimeout    = 10 * time.Second
)

// Config configures an [Authenticator]. With no JWTSecret, JWKSURL or
// UploadTokenKeys, authentication is off: requests pass unauthenticated
// and uploads have no owner.
type Config struct {
	// JWTSecret enables HS256 JWTs signed with this key (at least 32
	// bytes). If nil, HS256 is refused.
	JWTSecret []byte
	// JWKSURL enables RS256 and ES256 JWTs verified with the keys
	// published at this URL. If empty, they are refused.
	JWKSURL string
	// Algorithms lists the JWT algorithms accepted, among HS256, RS256 and
	// ES256. Default: HS256 if JWTSecret is set, RS256 and ES256 if
	// JWKSURL is set.
	Algorithms []string
	// Issuer, if set, must equal a JWT's iss claim.
	Issuer string
	// Audience, if not empty, must share a value with a JWT's aud claim.
	Audience []string
	// Leeway is the clock skew allowed on exp and nbf. Default: 30s;
	// negative means none.
	Leeway time.Duration
	// JWKSRefresh is how long fetched JWKS keys are used before they are
	// fetched again. Default: 15m.
	JWKSRefresh time.Duration
	// JWKSMinRefresh is the shortest interval between two JWKS fetches,
	// which bounds fetches caused by tokens with unknown kids. Default: 30s.
	JWKSMinRefresh time.Duration
	// UploadTokenKeys enables upload tokens; a token signed by any of the
	// keys (each at least 32 bytes) is accepted, so keys can be rotated.
	UploadTokenKeys [][]byte
	// Hook configures the optional pre-create hook; see [HookConfig].
	Hook HookConfig
	// Realm is the realm of WWW-Authenticate challenges. Default: vodgate.
	Realm string
	// HTTPClient fetches the JWKS and calls the hook. Default: a client
	// with a 10s timeout.
	HTTPClient *http.Client
	// Clock returns the time. Default: time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
}

// Enabled reports whether any kind of credential is configured.
func (c *Config) Enabled() bool {
	return len(c.JWTSecret) > 0 || c.JWKSURL != "" || len(c.UploadTokenKeys) > 0
}

func (c *Config) setDefaults() {
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if c.JWKSRefresh <= 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Algorithms) == 0 {
		if len(c.JWTSecret) > 0 {
			c.Algorithms = append(c.Algorithms, AlgHS256)
		}
		if c.JWKSURL != "" {
			c.Algorithms = append(c.Algorithms, AlgRS256, AlgES256)
		}
	}
	c.Hook.setDefaults()
}

// Validate checks c without I/O; call it before [New] to report
// configuration errors early (New calls it too).
func (c *Config) Validate() error {
	var errs []error
	if len(c.JWTSecret) > 0 && len(c.JWTSecret) < MinKeyBytes {
		errs = append(errs, fmt.Errorf("auth: jwt secret: %w", ErrShortKey))
	}
	for i, k := range c.UploadTokenKeys {
		if len(k) < MinKeyBytes {
			errs = append(errs, fmt.Errorf("auth: upload token key %d: %w", i+1, ErrShortKey))
		}
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("auth: jwks url: %w", err))
		}
	}
	for _, a := range c.Algorithms {
		switch {
		case a == AlgHS256 && len(c.JWTSecret) == 0:
			errs = append(errs, errors.New("auth: algorithm HS256 needs a jwt secret"))
		case (a == AlgRS256 || a == AlgES256) && c.JWKSURL == "":
			errs = append(errs, fmt.Errorf("auth: algorithm %s needs a jwks url", a))
		case !slices.Contains([]string{AlgHS256, AlgRS256, AlgES256}, a):
			errs = append(errs, fmt.Errorf("auth: algorithm %q not supported (HS256, RS256, ES256)", a))
		}
	}
	if c.Leeway > 10*time.Minute {
		errs = append(errs, errors.New("auth: leeway must be at most 10m"))
	}
	if err := c.Hook.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an http or https URL")
	}
	return nil
}

// Authenticator verifies bearer tokens. Build it with [New]; it is safe
// for concurrent use.
type Authenticator struct {
	cfg     Config
	jwt     *jwtVerifier // nil: JWTs refused
	hook    *hookClient  // nil: no pre-create hook
	metrics *metrics
}

// New builds an Authenticator; it does no I/O (JWKS keys are fetched on
// first use).
func New(cfg Config) (*Authenticator, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Authenticator{cfg: cfg, metrics: newMetrics()}
	if len(cfg.JWTSecret) > 0 || cfg.JWKSURL != "" {
		v := &jwtVerifier{
			secret: cfg.JWTSecret, issuer: cfg.Issuer, audience: cfg.Audience,
			leeway: cfg.Leeway, now: cfg.Clock, algs: map[string]bool{},
		}
		for _, alg := range cfg.Algorithms {
			v.algs[alg] = true
		}
		if cfg.JWKSURL != "" {
			v.keys = &keySet{
				url: cfg.JWKSURL, client: cfg.HTTPClient, refresh: cfg.JWKSRefresh,
				minRefresh: cfg.JWKSMinRefresh, now: cfg.Clock,
				logger: cfg.Logger.With("component", "auth"), onFetch: a.metrics.jwksFetched,
			}
		}
		a.jwt = v
	}
	if cfg.Hook.URL != "" {
		a.hook = &hookClient{cfg: cfg.Hook, client: cfg.HTTPClient, logger: cfg.Logger.With("component", "auth"),
			metrics: a.metrics}
	}
	return a, nil
}

// Enabled reports whether requests are authenticated.
func (a *Authenticator) Enabled() bool { return a.cfg.Enabled() }

// Authenticate verifies a bearer token (a JWT or an upload token) and
// returns its caller. Errors are *[Error].
func (a *Authenticator) Authenticate(ctx context.Context, token string) (tusstore.Caller, error) {
	if len(token) > maxTokenBytes {
		return tusstore.Caller{}, reject(ReasonMalformed, "token too long")
	}
	if strings.HasPrefix(token, UploadTokenPrefix) {
		if len(a.cfg.UploadTokenKeys) == 0 {
			return tusstore.Caller{}, reject(ReasonTokenKindUnknown, "upload tokens are not accepted here")
		}
		_, c, err := verifyUploadToken(a.cfg.UploadTokenKeys, token, a.cfg.Clock(), a.cfg.Leeway)
		if err == nil {
			a.metrics.accepted.WithLabelValues("upload_token").Inc()
		}
		return c, err
	}
	if a.jwt == nil {
		return tusstore.Caller{}, reject(ReasonTokenKindUnknown, "JWTs are not accepted here")
	}
	c, err := a.jwt.verify(ctx, token)
	if err == nil {
		a.metrics.accepted.WithLabelValues("jwt").Inc()
	}
	return c, err
}

type (
	callerKey     struct{}
	authHeaderKey struct{}
)

// WithCaller returns a context carrying c, as the middleware does.
func WithCaller(ctx context.Context, c tusstore.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller the middleware authenticated; it fits
// tusstore.Config.CallerOf.
func CallerOf(ctx context.Context) (tusstore.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(tusstore.Caller)
	return c, ok
}

// OwnerOf returns the authenticated caller's owner.
func OwnerOf(ctx context.Context) (string, bool) {
	c, ok := CallerOf(ctx)
	return c.Owner, ok && c.Owner != ""
}

// Middleware authenticates every request to next except OPTIONS (after
// X-HTTP-Method-Override): a missing or invalid bearer token is answered
// with 401 (503 if the JWKS is unreachable); a valid one puts its caller
// into the request context ([CallerOf]) and the Authorization header is
// removed before next runs. With authentication off, requests pass as
// they are.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	if !a.Enabled() {
		return next
	}
	log := a.cfg.Logger.With("component", "auth")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if effectiveMethod(r) == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if len(r.Header.Values("Authorization")) > 1 {
			// Which one would be meant? Refuse rather than pick one.
			a.metrics.rejections.WithLabelValues(ReasonDuplicate).Inc()
			log.InfoContext(ctx, "AuthRejected", "reason", ReasonDuplicate, "method", effectiveMethod(r),
				"path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("Tus-Resumable", "1.0.0")
			http.Error(w, "ERR_DUPLICATE_AUTHORIZATION: more than one Authorization header", http.StatusBadRequest)
			return
		}
		raw := r.Header.Get("Authorization")
		token, ok := bearer(raw)
		var c tusstore.Caller
		var err error
		if !ok {
			err = reject(ReasonMissing, "missing bearer token in the Authorization header")
		} else {
			c, err = a.Authenticate(ctx, token)
		}
		if err != nil {
			var ae *Error
			reason := ReasonMalformed
			if errors.As(err, &ae) {
				reason = ae.Reason
			}
			a.metrics.rejections.WithLabelValues(reason).Inc()
			log.InfoContext(ctx, "AuthRejected", "reason", reason, "method", effectiveMethod(r),
				"path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, r, a.cfg.Realm, err)
			return
		}
		r = r.Clone(context.WithValue(WithCaller(ctx, c), authHeaderKey{}, raw))
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" value.
func bearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// effectiveMethod is the method tusd acts on: POST may carry
// X-HTTP-Method-Override, which tusd takes as it is (case included).
func effectiveMethod(r *http.Request) string {
	if o := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && o != "" {
		return o
	}
	return r.Method
}
