package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HeaderRequestID carries the request ID in both directions.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen matches tusd, which truncates X-Request-ID to 36 bytes.
const maxRequestIDLen = 36

type requestIDKey struct{}

// RequestID returns the request ID stored in ctx by the server, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID keeps a client's X-Request-ID when it is short and made of
// safe characters, otherwise replaces it with a random one; the ID is put
// back on the request (tusd logs it as requestId), into the context and on
// the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// withRetryAfter adds Retry-After to 503 responses that have none (tusd's
// ERR_SERVER_SHUTDOWN, for example). Stores that know better set their own
// through handler.Error's HTTPResponse headers; those are kept.
func withRetryAfter(seconds int, next http.Handler) http.Handler {
	v := strconv.Itoa(seconds)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := wrapWriter(w)
		rw.beforeHeader(func(status int, h http.Header) {
			if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
				h.Set("Retry-After", v)
			}
		})
		next.ServeHTTP(rw, r)
	})
}

// accessLog logs one RequestServed line per request and observes the
// request duration. Probe and metrics paths are logged at debug level.
type accessLog struct {
	logger      *slog.Logger
	behindProxy bool
	quiet       map[string]bool
	duration    *prometheus.HistogramVec // nil: no metrics
	protocols   *prometheus.CounterVec   // nil: no metrics
}

func newDurationHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vodgate_http_request_duration_seconds",
		Help:    "Duration of HTTP requests by (override-aware) method and status code.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"method", "code"})
}

func newProtocolCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vodgate_http_requests_by_protocol_total",
		Help: "HTTP requests served by protocol (HTTP/1.1, HTTP/2.0, HTTP/3.0) and whether they came over TLS.",
	}, []string{"protocol", "tls"})
}

// protocolLabel is r.Proto for the known versions, "other" otherwise, so
// the label set stays bounded.
func protocolLabel(r *http.Request) string {
	switch r.Proto {
	case "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3.0":
		return r.Proto
	}
	return "other"
}

func (a *accessLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := wrapWriter(w)
		var in atomic.Int64
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &countingBody{ReadCloser: r.Body, n: &in}
		}
		next.ServeHTTP(rw, r)

		status := rw.Status()
		if status == 0 {
			status = http.StatusOK
		}
		method := tusMethod(r)
		elapsed := time.Since(start)
		if a.duration != nil {
			a.duration.WithLabelValues(methodLabel(method), strconv.Itoa(status)).Observe(elapsed.Seconds())
		}
		if a.protocols != nil {
			a.protocols.WithLabelValues(protocolLabel(r), strconv.FormatBool(r.TLS != nil)).Inc()
		}
		level := slog.LevelInfo
		if a.quiet[r.URL.Path] {
			level = slog.LevelDebug
		}
		ctx := r.Context()
		if !a.logger.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytesIn", in.Load()),
			slog.Int64("bytesOut", rw.bytes),
			slog.Float64("durationMs", float64(elapsed.Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
			slog.String("proto", r.Proto),
			slog.String("requestId", RequestID(ctx)),
			slog.String("userAgent", r.UserAgent()),
		}
		if xff := r.Header.Get("X-Forwarded-For"); a.behindProxy && xff != "" {
			attrs = append(attrs, slog.String("forwardedFor", xff))
		}
		a.logger.LogAttrs(ctx, level, "RequestServed", attrs...)
	})
}

// methodLabel bounds the label values of the method dimension.
func methodLabel(m string) string {
	switch m {
	case http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodGet:
		return m
	}
	return "OTHER"
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
