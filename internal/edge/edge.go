package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3CloseGrace is how long Shutdown waits, once no request runs, for
// HTTP/3 clients to close their connections before it closes them.
const h3CloseGrace = 500 * time.Millisecond

// HTTP/2 receive windows. Go's defaults (1 MiB) cap an upload stream at
// 1 MiB per round trip: about 9 MiB/s at 100 ms, where HTTP/1.1 over the
// same path reached 58 MiB/s. These let one stream carry a part (8 MiB)
// per round trip, like quic-go's windows for HTTP/3 (6 MB per stream, 15 MB
// per connection, auto-tuned). The bytes are buffered only while the
// handler does not read, as the kernel buffers a TCP socket's for
// HTTP/1.1.
const (
	H2StreamWindow     = 8 << 20
	H2ConnectionWindow = 16 << 20
)

// AltSvcMaxAge is how long (seconds) clients may remember the Alt-Svc
// advertisement of HTTP/3.
const AltSvcMaxAge = 86400

// Config configures an [Edge]. The zero value serves plain HTTP/1.1.
type Config struct {
	// CertFile and KeyFile name a PEM certificate chain and its PEM private
	// key; with both set the listener speaks TLS (HTTP/1.1 and HTTP/2).
	// Either without the other is an error.
	CertFile, KeyFile string
	// Source, instead of the files, supplies certificates (ACME:
	// internal/acme); its NextProtos (acme-tls/1) are offered over TCP too.
	Source CertSource
	// H2C serves HTTP/2 with prior knowledge (RFC 9113 section 3.3) on a
	// listener without TLS, next to HTTP/1.1. Ignored with TLS.
	H2C bool
	// HTTP3 also serves HTTP/3 over QUIC on the same port over UDP, and
	// advertises it with Alt-Svc. Requires TLS.
	HTTP3 bool
	// CheckInterval bounds how often a handshake looks at the certificate
	// files. Default: [DefaultCheckInterval].
	CheckInterval time.Duration
	// Logger receives certificate reloads and HTTP/3 errors. Default:
	// slog.Default().
	Logger *slog.Logger
}

// CertSource supplies certificates for handshakes.
type CertSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// NextProtos are ALPN protocols the TCP listener offers besides h2
	// and http/1.1 (for example acme-tls/1 for TLS-ALPN-01 challenges).
	NextProtos() []string
}

// Edge listens and serves one handler over the configured protocols. Build
// it with [New]; it is used by one [Edge.Listen] and one [Edge.Serve].
type Edge struct {
	cfg   Config
	certs *Certs // from the files; nil without them
	// getCert is the certificate of a handshake (certs or cfg.Source);
	// nil without TLS.
	getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	udp net.PacketConn // HTTP/3 socket, bound by Listen
	h3  *http3.Server  // set by Serve

	inflight atomic.Int64 // HTTP/3 handlers running

	mu       sync.Mutex
	stopping bool
}

// New checks cfg and loads the certificate; it does no network I/O.
func New(cfg Config) (*Edge, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("edge: a certificate file and a key file are both needed for TLS")
	}
	e := &Edge{cfg: cfg}
	switch {
	case cfg.Source != nil && cfg.CertFile != "":
		return nil, errors.New("edge: certificate files and a certificate source (ACME) exclude each other")
	case cfg.Source != nil:
		e.getCert = cfg.Source.GetCertificate
	case cfg.CertFile != "":
		var err error
		if e.certs, err = NewCerts(cfg.CertFile, cfg.KeyFile, cfg.CheckInterval, nil, cfg.Logger.With("component", "tls")); err != nil {
			return nil, err
		}
		e.getCert = e.certs.GetCertificate
	case cfg.HTTP3:
		return nil, errors.New("edge: HTTP/3 needs TLS (a certificate file and a key file)")
	}
	return e, nil
}

// TLS reports whether the edge serves TLS.
func (e *Edge) TLS() bool { return e.getCert != nil }

// Certs returns the certificate source, nil without TLS.
func (e *Edge) Certs() *Certs { return e.certs }

// Reload re-reads the certificate files at once (e.g. on SIGHUP); without
// TLS it does nothing. On error the previous certificate stays in use.
func (e *Edge) Reload() error {
	if e.certs == nil {
		return nil
	}
	return e.certs.Reload()
}

// Listen binds addr over TCP and, with HTTP/3, the same port over UDP.
func (e *Edge) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("edge: listen: %w", err)
	}
	if !e.cfg.HTTP3 {
		return ln, nil
	}
	udp, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("edge: listen HTTP/3 (UDP): %w", err)
	}
	e.udp = udp
	return ln, nil
}

// tlsConfig is the TLS configuration for TCP: TLS 1.2 or later, ALPN h2
// then http/1.1, the certificate from Certs.
func (e *Edge) tlsConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if e.cfg.Source != nil {
		protos = append(protos, e.cfg.Source.NextProtos()...)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: e.getCert,
		NextProtos:     protos,
	}
}

// Serve serves srv on ln with the configured protocols, and HTTP/3 on the
// UDP socket Listen bound, all with srv.Handler; it sets srv's TLSConfig
// and Protocols. It returns like [http.Server.Serve] (ErrServerClosed after
// srv.Shutdown), or an error if HTTP/3 stopped serving on its own. Call
// [Edge.Shutdown] alongside srv.Shutdown.
func (e *Edge) Serve(srv *http.Server, ln net.Listener) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(e.TLS())
	p.SetUnencryptedHTTP2(!e.TLS() && e.cfg.H2C)
	srv.Protocols = &p
	srv.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: H2StreamWindow, MaxReceiveBufferPerConnection: H2ConnectionWindow}
	if !e.TLS() {
		return srv.Serve(ln)
	}
	srv.TLSConfig = e.tlsConfig()
	if e.udp == nil {
		return srv.ServeTLS(ln, "", "")
	}

	base := context.Background()
	if srv.BaseContext != nil {
		base = srv.BaseContext(ln)
	}
	_, port, _ := net.SplitHostPort(e.udp.LocalAddr().String())
	e.mu.Lock()
	e.h3 = &http3.Server{
		Handler:        e.h3Handler(base, srv.Handler),
		TLSConfig:      http3.ConfigureTLSConfig(&tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: e.getCert}),
		QUICConfig:     &quic.Config{MaxIdleTimeout: 60 * time.Second, KeepAlivePeriod: 15 * time.Second},
		MaxHeaderBytes: srv.MaxHeaderBytes,
		IdleTimeout:    srv.IdleTimeout,
		Logger:         e.cfg.Logger.With("component", "http3"),
	}
	h3 := e.h3
	e.mu.Unlock()
	srv.Handler = withAltSvc(`h3=":`+port+`"; ma=`+strconv.Itoa(AltSvcMaxAge), srv.Handler)

	h3err := make(chan error, 1)
	go func() {
		err := h3.Serve(e.udp)
		e.mu.Lock()
		stopping := e.stopping
		e.mu.Unlock()
		if err != nil && !stopping && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
			e.cfg.Logger.Error("HTTP3ServeFailed", "error", err)
			h3err <- err
			_ = srv.Close()
		}
		close(h3err)
	}()
	err := srv.ServeTLS(ln, "", "")
	if !errors.Is(err, http.ErrServerClosed) {
		_ = e.Close() // TCP failed: stop HTTP/3 too (a shutdown stops it through Shutdown)
	}
	if e3, ok := <-h3err; ok {
		return fmt.Errorf("edge: HTTP/3: %w", e3)
	}
	return err
}

// Shutdown stops HTTP/3 gracefully: no new connections or requests
// (GOAWAY), then waits for the requests running to return, or for ctx,
// and closes the QUIC connections and the UDP socket. The TCP side is
// stopped by the http.Server's own Shutdown.
func (e *Edge) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	h3 := e.h3
	e.mu.Unlock()
	if h3 == nil {
		return e.closeUDP()
	}
	sdone := make(chan error, 1)
	go func() { sdone <- h3.Shutdown(ctx) }()
	var err error
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for err == nil && e.inflight.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		// Let the last responses reach their clients, and clients close
		// their connections after GOAWAY, before closing what is left.
		select {
		case <-sdone:
			return e.closeUDP()
		case <-time.After(h3CloseGrace):
		case <-ctx.Done():
		}
	}
	_ = h3.Close()
	<-sdone
	return errors.Join(err, e.closeUDP())
}

// Close stops HTTP/3 at once.
func (e *Edge) Close() error {
	e.mu.Lock()
	e.stopping = true
	h3 := e.h3
	e.mu.Unlock()
	if h3 != nil {
		_ = h3.Close()
	}
	return e.closeUDP()
}

func (e *Edge) closeUDP() error {
	if e.udp == nil {
		return nil
	}
	if err := e.udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("edge: close UDP: %w", err)
	}
	return nil
}

// h3Handler runs next for an HTTP/3 request with a context that is also
// cancelled, with the same cause, when base is: the http.Server does that
// for its own connections through BaseContext.
func (e *Edge) h3Handler(base context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Add(-1)
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		stop := context.AfterFunc(base, func() { cancel(context.Cause(base)) })
		defer stop()
		next.ServeHTTP(&h3Writer{ResponseWriter: w}, r.WithContext(ctx))
	})
}

// connectionHeaders are HTTP/1.1 connection-specific fields, malformed in
// an HTTP/3 response (RFC 9114 section 4.2). The handler chain sets
// "Connection: close" when it cuts a slow body; HTTP/2 turns that into a
// GOAWAY, HTTP/3 clients would reject the response, so it is dropped: the
// stream alone ends.
var connectionHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"}

// h3Writer removes connection-specific headers before the response header
// is sent. Unwrap keeps http.ResponseController (read deadlines) working.
type h3Writer struct {
	http.ResponseWriter
	sent bool
}

func (w *h3Writer) strip() {
	if w.sent {
		return
	}
	w.sent = true
	h := w.ResponseWriter.Header()
	for _, k := range connectionHeaders {
		delete(h, k)
	}
}

func (w *h3Writer) WriteHeader(code int) {
	if code >= 200 {
		w.strip()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *h3Writer) Write(p []byte) (int, error) {
	w.strip()
	return w.ResponseWriter.Write(p)
}

func (w *h3Writer) Flush() {
	w.strip()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *h3Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withAltSvc advertises HTTP/3 on every response.
func withAltSvc(value string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", value)
		next.ServeHTTP(w, r)
	})
}
