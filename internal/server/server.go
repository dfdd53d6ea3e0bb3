package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/prometheuscollector"
)

// Defaults applied by [New] when a [Config] field is zero.
const (
	DefaultListen                   = "127.0.0.1:8080"
	DefaultBasePath                 = "/files/"
	DefaultReadHeaderTimeout        = 10 * time.Second
	DefaultIdleTimeout              = 2 * time.Minute
	DefaultNetworkTimeout           = 60 * time.Second
	DefaultRequestCompletionTimeout = 10 * time.Second
	DefaultAcquireLockTimeout       = 20 * time.Second
	DefaultShutdownTimeout          = 30 * time.Second
	DefaultMaxHeaderBytes           = 64 << 10
	DefaultReadyTimeout             = 800 * time.Millisecond // under the usual 1s probe timeout
	DefaultRetryAfter               = 5                      // seconds
)

// Config configures a [Server]. StoreComposer is required.
type Config struct {
	// Listen is the TCP address to listen on. Default: 127.0.0.1:8080.
	Listen string
	// BasePath is the URL path of the tus endpoint; it must start with "/".
	// A trailing slash is added. Default: /files/.
	BasePath string
	// StoreComposer holds the data store and locker for tusd. Required.
	StoreComposer *handler.StoreComposer
	// MaxSize is advertised as Tus-Max-Size and enforced by tusd. If zero
	// or negative, tusd enforces no limit (the store may still).
	MaxSize int64
	// CORSOrigins lists the origins allowed to use the tus endpoint from a
	// browser (see [CORSConfig]). If empty, CORS is disabled.
	CORSOrigins []string
	// BehindProxy makes tusd build Location URLs from X-Forwarded-Host,
	// X-Forwarded-Proto and Forwarded, and the access log record
	// X-Forwarded-For. Enable it only behind a proxy that sets them.
	BehindProxy bool
	// PublicURL, if set ("https://upload.example.com"), is the scheme and
	// host of the upload URLs in Location, whatever the request's Host or
	// forwarded headers say. It must pass [ParsePublicURL].
	PublicURL string
	// Media adds Vod-Media-Id and Vod-Media-Type to POST, HEAD and PATCH
	// responses. If nil, the headers are not sent.
	Media MediaLookup
	// TusMiddleware, if set, wraps the tus handler (after request ID, access
	// log and CORS fallback, before the Vod-Media headers and tusd), e.g.
	// authentication that puts the caller into the request context for the
	// store. Responses it writes itself get tusd's CORS headers added.
	TusMiddleware func(http.Handler) http.Handler
	// CheckClientMetadata, if set, checks the metadata a client sent with a
	// creation, before PreUploadCreate may change it; an error is answered
	// 400 ERR_INVALID_METADATA with its text (e.g. the userData policy).
	CheckClientMetadata func(handler.MetaData) error
	// PreUploadCreate, if set, runs as tusd's PreUploadCreateCallback after
	// the Upload-Metadata check: it may reject a creation (returning a
	// handler.Error) or change its metadata (e.g. an application hook).
	PreUploadCreate func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error)
	// PreFinishResponse, if set, is tusd's PreFinishResponseCallback: it
	// runs when an upload completes, before the response is sent.
	PreFinishResponse func(handler.HookEvent) (handler.HTTPResponse, error)
	// Gate, if set, admits HEAD, PATCH and DELETE requests for an upload
	// before tusd takes its lock; others get 404 (see [UploadGate]).
	Gate UploadGate
	// Expiry adds Upload-Expires to POST and PATCH responses and
	// advertises the expiration extension. If nil, neither is done.
	Expiry ExpiryLookup
	// Ready lists the dependencies /readyz checks, by name. If empty,
	// /readyz answers like /healthz.
	Ready map[string]Pinger
	// Registry receives the tusd and HTTP metrics and is served on
	// /metrics. If nil, there are no metrics and no /metrics route.
	Registry *prometheus.Registry
	// ReadHeaderTimeout bounds reading request headers. Default: 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds keep-alive idle connections. Default: 2m.
	IdleTimeout time.Duration
	// NetworkTimeout is tusd's per-read timeout on request bodies.
	// Default: 60s.
	NetworkTimeout time.Duration
	// RequestCompletionTimeout is how long the data store may keep working
	// after its request ended (tusd's GracefulRequestCompletionTimeout), so
	// an interrupted PATCH can persist what it read. Default: 10s.
	RequestCompletionTimeout time.Duration
	// AcquireLockTimeout is how long a request waits for an upload's lock.
	// Default: 20s.
	AcquireLockTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown; connections still open
	// after it are closed. Default: 30s.
	ShutdownTimeout time.Duration
	// MaxHeaderBytes bounds request headers. Default: 64 KiB.
	MaxHeaderBytes int
	// Logger receives access logs and tusd's logs. Default: slog.Default().
	Logger *slog.Logger
	// Routes adds handlers by http.ServeMux pattern (e.g. the -dev page's
	// "GET /{$}", the upload API's "/uploads"), behind the request ID,
	// access log and Retry-After middleware and with the tus endpoint's
	// CORS origins. They authenticate for themselves. A pattern that
	// conflicts with the server's own routes makes New fail.
	Routes map[string]http.Handler
	// Outer, if set, wraps the whole handler, outside the request ID and
	// access log middleware, so what it puts in the request context (a
	// trace span) reaches every log line of the request.
	Outer func(http.Handler) http.Handler
	// Transport, if set, serves the [http.Server] on the listener (TLS,
	// HTTP/2, h2c, HTTP/3: internal/edge) and is shut down with it. If nil,
	// the server speaks plain HTTP/1.1.
	Transport Transport
	// ResumableUploads turns on tusd's IETF resumable-upload draft support
	// (interop versions 3 to 6, EnableExperimentalProtocol); internal/
	// resumable adds versions 7 and 8 in TusMiddleware.
	ResumableUploads bool
	// DraftMetadata, if set, gives the metadata of a creation in the IETF
	// draft (a request with Upload-Draft-Interop-Version), which has no
	// metadata header of its own: from the request's header and what tusd
	// derived from it (filename, filetype). It runs before
	// CheckClientMetadata, which then sees its result.
	DraftMetadata func(h http.Header, derived handler.MetaData) handler.MetaData
	// ConnContext, if set, is the http.Server's ConnContext: it is called
	// in the accept loop, in the order connections are accepted (the
	// parallel-upload sequencer numbers connections there).
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// WrapListener, if set, wraps the listener Serve is given (the
	// parallel-upload sequencer notes the kernel's receive time of reads).
	WrapListener func(net.Listener) net.Listener
}

// Transport serves an [http.Server], whose Handler is the server's whole
// middleware chain, over its protocols.
type Transport interface {
	// Serve serves srv on ln (and whatever else it listens on) with
	// srv.Handler; it returns like [http.Server.Serve].
	Serve(srv *http.Server, ln net.Listener) error
	// Shutdown stops what Serve added beyond ln gracefully, within ctx; it
	// runs alongside srv.Shutdown, after the base context was cancelled.
	Shutdown(ctx context.Context) error
	// Close stops it at once.
	Close() error
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if !strings.HasSuffix(c.BasePath, "/") {
		c.BasePath += "/"
	}
	for p, d := range map[*time.Duration]time.Duration{
		&c.ReadHeaderTimeout:        DefaultReadHeaderTimeout,
		&c.IdleTimeout:              DefaultIdleTimeout,
		&c.NetworkTimeout:           DefaultNetworkTimeout,
		&c.RequestCompletionTimeout: DefaultRequestCompletionTimeout,
		&c.AcquireLockTimeout:       DefaultAcquireLockTimeout,
		&c.ShutdownTimeout:          DefaultShutdownTimeout,
	} {
		if *p <= 0 {
			*p = d
		}
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is the gateway's HTTP server. Build it with [New] and start it
// with [Server.Run] or [Server.Serve].
type Server struct {
	cfg      Config
	tus      *handler.Handler
	handler  http.Handler
	conns    prometheus.Gauge
	draining atomic.Bool
}

// New builds the tusd handler and the routes, and registers metrics in
// cfg.Registry. It does no network I/O.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.StoreComposer == nil {
		return nil, errors.New("server: config: StoreComposer is required")
	}
	if !strings.HasPrefix(cfg.BasePath, "/") {
		return nil, fmt.Errorf("server: config: base path %q must start with /", cfg.BasePath)
	}
	cors, err := CORSConfig(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("server: config: %w", err)
	}
	draftMeta := cfg.DraftMetadata
	if !cfg.ResumableUploads {
		draftMeta = nil // tusd treats every request as tus
	}
	tus, err := handler.NewHandler(handler.Config{
		StoreComposer:                    cfg.StoreComposer,
		BasePath:                         cfg.BasePath,
		MaxSize:                          cfg.MaxSize,
		DisableDownload:                  true,
		DisableConcatenation:             !cfg.StoreComposer.UsesConcater, // parallel uploads: tusstore/concat.go
		Cors:                             cors,
		RespectForwardedHeaders:          cfg.BehindProxy,
		GracefulRequestCompletionTimeout: cfg.RequestCompletionTimeout,
		AcquireLockTimeout:               cfg.AcquireLockTimeout,
		NetworkTimeout:                   cfg.NetworkTimeout,
		PreUploadCreateCallback:          chainPreCreate(checkMetadata(cfg.CheckClientMetadata, draftMeta), cfg.PreUploadCreate),
		EnableExperimentalProtocol:       cfg.ResumableUploads,
		PreFinishResponseCallback:        cfg.PreFinishResponse,
		Logger:                           TusdLogger(cfg.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("server: tusd handler: %w", err)
	}
	var public *url.URL
	if cfg.PublicURL != "" {
		if public, err = ParsePublicURL(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("server: config: public URL: %w", err)
		}
	}
	s := &Server{cfg: cfg, tus: tus}

	al := &accessLog{
		logger:      cfg.Logger.With("component", "http"),
		behindProxy: cfg.BehindProxy,
		quiet:       map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true},
	}
	if cfg.Registry != nil {
		al.duration, al.protocols = newDurationHistogram(), newProtocolCounter()
		s.conns = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tusd_connections_open",
			Help: "Current number of open connections.",
		})
		for _, c := range []prometheus.Collector{prometheuscollector.New(tus.Metrics), al.duration, al.protocols, s.conns} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("server: register metrics: %w", err)
			}
		}
	}

	// tusd routes on the path below the base, so strip it; mount the base
	// path with and without its trailing slash, as tusd's CLI does.
	route := func(prefix string) http.Handler {
		h := withTusStatus(http.StripPrefix(prefix, tus))
		if cfg.Gate != nil {
			h = gateUploads(cfg.BasePath, cfg.Gate, h)
		}
		if cfg.Media != nil || cfg.Expiry != nil {
			h = uploadHeaders(cfg.BasePath, cfg.Media, cfg.Expiry, h)
		}
		if public != nil {
			h = withPublicLocation(public, h)
		}
		if cfg.TusMiddleware != nil {
			h = cfg.TusMiddleware(h)
		}
		return corsFallback(cors, h)
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.BasePath, route(cfg.BasePath))
	if without := strings.TrimSuffix(cfg.BasePath, "/"); without != "" {
		mux.Handle(without, route(without))
	}
	h := &health{
		checks: cfg.Ready, timeout: DefaultReadyTimeout, retryAfter: DefaultRetryAfter,
		draining: &s.draining, logger: cfg.Logger.With("component", "http"),
	}
	mux.HandleFunc("GET /healthz", h.live)
	mux.HandleFunc("GET /readyz", h.ready)
	if cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
			Registry: cfg.Registry, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		}))
	}
	for pattern, rh := range cfg.Routes {
		if err := handleSafe(mux, pattern, withCORS(cors, "GET, POST, DELETE", rh)); err != nil {
			return nil, fmt.Errorf("server: config: route %q: %w", pattern, err)
		}
	}
	s.handler = withRequestID(al.wrap(withRetryAfter(DefaultRetryAfter, mux)))
	if cfg.Outer != nil {
		s.handler = cfg.Outer(s.handler)
	}
	return s, nil
}

// handleSafe registers h for pattern, turning the mux's panic on a
// malformed or conflicting pattern into an error.
func handleSafe(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// Handler returns the server's root handler (all routes and middleware),
// for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Extensions returns the tus extensions advertised in Tus-Extension.
func (s *Server) Extensions() string {
	ext := s.tus.SupportedExtensions()
	if s.cfg.Expiry != nil {
		ext += ",expiration"
	}
	return ext
}

// Run listens on cfg.Listen and calls [Server.Serve].
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully (see
// the package documentation) and returns nil; it returns an error if
// serving fails. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests outlive ctx (the signal) until shutdown cancels them with
	// ErrServerShutdown, which makes tusd close in-flight request bodies.
	baseCtx, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(handler.ErrServerShutdown)
	if s.cfg.WrapListener != nil {
		ln = s.cfg.WrapListener(ln)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ConnState:         s.connState,
		ConnContext:       s.cfg.ConnContext,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { cancelBase(handler.ErrServerShutdown) })

	errc := make(chan error, 1)
	go func() {
		if s.cfg.Transport != nil {
			errc <- s.cfg.Transport.Serve(srv, ln)
			return
		}
		errc <- srv.Serve(ln)
	}()
	log := s.cfg.Logger.With("component", "http")
	log.InfoContext(ctx, "ServerListening", "addr", ln.Addr().String(), "basePath", s.cfg.BasePath,
		"extensions", s.Extensions())

	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	log.InfoContext(ctx, "ServerShuttingDown", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	terr := make(chan error, 1)
	if s.cfg.Transport != nil {
		// The transport's other requests (HTTP/3) share the base context:
		// cancel it before they are waited for, as srv.Shutdown does.
		cancelBase(handler.ErrServerShutdown)
		go func() { terr <- s.cfg.Transport.Shutdown(sctx) }()
	} else {
		terr <- nil
	}
	err := srv.Shutdown(sctx)
	err = errors.Join(err, <-terr)
	if err != nil {
		log.WarnContext(ctx, "ServerShutdownTimeout", "error", err)
		_ = srv.Close()
		if s.cfg.Transport != nil {
			_ = s.cfg.Transport.Close()
		}
	}
	<-errc // http.ErrServerClosed
	log.InfoContext(ctx, "ServerStopped", "graceful", err == nil)
	return nil
}

func (s *Server) connState(_ net.Conn, cs http.ConnState) {
	if s.conns == nil {
		return
	}
	switch cs {
	case http.StateNew:
		s.conns.Inc()
	case http.StateClosed, http.StateHijacked:
		s.conns.Dec()
	}
}
