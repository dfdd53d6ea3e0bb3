package checksum

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Extensions are the tus extensions the middleware adds to Tus-Extension.
const Extensions = "checksum,checksum-trailer"

// Config configures [New]. WithBodyCheck is required.
type Config struct {
	// WithBodyCheck returns ctx asking the store to call check once the
	// body ended and to record none of the body unless check returns nil
	// (tusstore.WithBodyCheck).
	WithBodyCheck func(ctx context.Context, check func() error) context.Context
	Registry      prometheus.Registerer
	Logger        *slog.Logger
}

// Checker is the checksum middleware; see the package doc.
type Checker struct {
	cfg        Config
	log        *slog.Logger
	mismatches *prometheus.CounterVec
}

// New returns a Checker. It does no I/O.
func New(cfg Config) (*Checker, error) {
	if cfg.WithBodyCheck == nil {
		return nil, errors.New("checksum: WithBodyCheck is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Checker{cfg: cfg, log: cfg.Logger.With("component", "checksum"),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_checksum_mismatches_total",
			Help: "Request bodies answered 460 Checksum Mismatch (none of their bytes kept), by algorithm."},
			[]string{"algorithm"})}
	for _, a := range Algorithms {
		c.mismatches.WithLabelValues(a)
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(c.mismatches); err != nil {
			return nil, fmt.Errorf("checksum: register metrics: %w", err)
		}
	}
	return c, nil
}

// Middleware wraps the tus handler: it advertises the extension on
// OPTIONS (Tus-Checksum-Algorithm, and checksum,checksum-trailer appended
// to tusd's Tus-Extension) and, on a PATCH or POST that carries
// Upload-Checksum or announces it as a trailer, answers a malformed value
// or an unknown algorithm with 400 before tusd runs, and otherwise hashes
// the body and puts the check into the request context.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(HeaderAlgorithms, strings.Join(Algorithms, ","))
			next.ServeHTTP(&extWriter{ResponseWriter: w}, r)
			return
		}
		if r.Method != http.MethodPatch && r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		_, trailer := r.Trailer[HeaderChecksum]
		v := r.Header.Get(HeaderChecksum)
		if v == "" && !trailer {
			next.ServeHTTP(w, r)
			return
		}
		var want Checksum
		var hr *hashReader
		if v != "" {
			var err error
			if want, err = Parse(v); err != nil {
				c.reject(w, r, err, v)
				return
			}
			hr = &hashReader{body: r.Body, hashes: map[string]hash.Hash{want.Algorithm: newHash(want.Algorithm)}}
		} else { // the algorithm comes after the body: hash with all of them
			hr = &hashReader{body: r.Body, hashes: make(map[string]hash.Hash, len(Algorithms))}
			for _, a := range Algorithms {
				hr.hashes[a] = newHash(a)
			}
		}
		orig := r
		check := func() error {
			if !hr.ended() {
				c.log.WarnContext(r.Context(), "ChecksumUnverified", "method", r.Method, "path", r.URL.Path, "bytes", hr.n)
				return ErrIncomplete
			}
			if v == "" {
				tv := orig.Trailer.Get(HeaderChecksum)
				if tv == "" {
					c.log.WarnContext(r.Context(), "ChecksumTrailerMissing", "method", r.Method, "path", r.URL.Path)
					return ErrMissing
				}
				var err error
				if want, err = Parse(tv); err != nil {
					c.log.WarnContext(r.Context(), "ChecksumRejected", "path", r.URL.Path, "value", tv, "error", err)
					return err
				}
			}
			got := hr.hashes[want.Algorithm].Sum(nil)
			if bytes.Equal(got, want.Digest) {
				return nil
			}
			c.mismatches.WithLabelValues(want.Algorithm).Inc()
			c.log.WarnContext(r.Context(), "ChecksumMismatch", "method", r.Method, "path", r.URL.Path,
				"algorithm", want.Algorithm, "want", base64.StdEncoding.EncodeToString(want.Digest),
				"got", base64.StdEncoding.EncodeToString(got), "bytes", hr.n, "trailer", v == "")
			return handler.NewError(ErrMismatch.ErrorCode, fmt.Sprintf(
				"the body's %s digest is %s, Upload-Checksum says %s; none of its bytes were kept, send them again",
				want.Algorithm, base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(want.Digest)), StatusMismatch)
		}
		r.Body = hr
		next.ServeHTTP(w, r.WithContext(c.cfg.WithBodyCheck(r.Context(), check)))
	})
}

// reject answers err as tusd writes its errors.
func (c *Checker) reject(w http.ResponseWriter, r *http.Request, err error, v string) {
	var te handler.Error
	if !errors.As(err, &te) {
		te = ErrMalformed
	}
	c.log.InfoContext(r.Context(), "ChecksumRejected", "method", r.Method, "path", r.URL.Path, "value", v, "code", te.ErrorCode)
	h := w.Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(te.HTTPResponse.StatusCode)
	_, _ = io.WriteString(w, te.HTTPResponse.Body)
}

// hashReader hashes a request body as it is read and notes whether it
// ended cleanly (io.EOF from the body itself).
type hashReader struct {
	body   io.ReadCloser
	hashes map[string]hash.Hash
	mu     sync.Mutex
	n      int64
	eof    bool
	failed bool
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.body.Read(p)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > 0 {
		h.n += int64(n)
		for _, x := range h.hashes {
			x.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF && !h.failed:
		h.eof = true
	case err != nil && err != io.EOF:
		h.failed = true
	}
	return n, err
}

func (h *hashReader) Close() error { return h.body.Close() }

func (h *hashReader) ended() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eof && !h.failed
}

// extWriter appends Extensions to a Tus-Extension header tusd set.
type extWriter struct {
	http.ResponseWriter
	done bool
}

func (w *extWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		h := w.Header()
		if ext := h.Get("Tus-Extension"); ext != "" && !strings.Contains(ext, "checksum") {
			h.Set("Tus-Extension", ext+","+Extensions)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *extWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *extWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
