package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
)

// responseWriter records the status and size of a response and runs hooks
// just before the final (non-1xx) header is written, so middleware can add
// headers that depend on the status. Unwrap keeps [http.ResponseController]
// (read/write deadlines, which tusd sets on every request) working, and
// Flush/Hijack are forwarded for code that type-asserts.
type responseWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	wrote    bool
	mappers  []func(status int) int
	onHeader []func(status int, h http.Header)
	interim  []func(status int, h http.Header)
}

func wrapWriter(w http.ResponseWriter) *responseWriter {
	if rw, ok := w.(*responseWriter); ok {
		return rw
	}
	return &responseWriter{ResponseWriter: w}
}

// mapStatus registers fn to rewrite the final status before the header
// hooks run and the header is sent.
func (w *responseWriter) mapStatus(fn func(status int) int) {
	w.mappers = append(w.mappers, fn)
}

// beforeInterim registers fn to run before each informational (1xx)
// header is sent, e.g. the draft's 104 with the upload URL.
func (w *responseWriter) beforeInterim(fn func(status int, h http.Header)) {
	w.interim = append(w.interim, fn)
}

// beforeHeader registers fn to run once, before the final header is sent.
func (w *responseWriter) beforeHeader(fn func(status int, h http.Header)) {
	w.onHeader = append(w.onHeader, fn)
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		for _, fn := range w.interim {
			fn(code, w.ResponseWriter.Header())
		}
		w.ResponseWriter.WriteHeader(code) // informational (100, 103, 104)
		return
	}
	w.wrote = true
	for _, fn := range w.mappers {
		code = fn(code)
	}
	w.status = code
	h := w.ResponseWriter.Header()
	for _, fn := range w.onHeader {
		fn(code, h)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Status returns the final status, 200 if the handler wrote nothing, and
// 0 before the handler has returned without writing.
func (w *responseWriter) Status() int {
	if !w.wrote {
		return 0
	}
	return w.status
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("server: hijack: %w", err)
	}
	return c, rw, nil
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
)
