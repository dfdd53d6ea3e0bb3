package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Pinger checks a dependency the gateway needs to serve uploads.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingerFunc adapts a function to [Pinger].
type PingerFunc func(ctx context.Context) error

// Ping calls f.
func (f PingerFunc) Ping(ctx context.Context) error { return f(ctx) }

// health serves /healthz and /readyz.
type health struct {
	checks     map[string]Pinger
	timeout    time.Duration
	retryAfter int
	draining   *atomic.Bool
	logger     *slog.Logger
}

// live answers 200 while the process serves requests.
func (h *health) live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// ready answers 200 when every check passes within the timeout, and 503 with
// Retry-After and one line per failing check otherwise (also while the
// server shuts down).
func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.draining.Load() {
		h.unavailable(w, "shutting down\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	slices.Sort(names)
	var failed strings.Builder
	for _, n := range names {
		if err := h.checks[n].Ping(ctx); err != nil {
			fmt.Fprintf(&failed, "%s: %v\n", n, err)
			h.logger.WarnContext(ctx, "ReadinessCheckFailed", "check", n, "error", err)
		}
	}
	if failed.Len() > 0 {
		h.unavailable(w, failed.String())
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (h *health) unavailable(w http.ResponseWriter, body string) {
	w.Header().Set("Retry-After", strconv.Itoa(h.retryAfter))
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(body))
}
