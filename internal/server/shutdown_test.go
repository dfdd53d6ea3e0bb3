package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// TestShutdownInterruptsPatchAndKeepsBytes checks tusd-style shutdown: an
// in-flight PATCH is interrupted with ErrServerShutdown, the store still has
// a live context to persist what it read, and Serve returns well within
// the shutdown timeout.
func TestShutdownInterruptsPatchAndKeepsBytes(t *testing.T) {
	store := newMemStore()
	store.received = make(chan int64, 64)
	s, err := New(Config{
		StoreComposer:            store.composer(),
		Logger:                   discardLogger(),
		RequestCompletionTimeout: 3 * time.Second,
		ShutdownTimeout:          5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	loc := create(t, base, "1048576")
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("PATCH", loc, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	type result struct {
		res *http.Response
		err error
	}
	patched := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		patched <- result{res, err}
	}()
	go func() { _, _ = pw.Write([]byte(strings.Repeat("x", 1000))) }()
	waitFor(t, store.received, 1000)

	start := time.Now()
	cancel() // SIGTERM
	var wr writeResult
	select {
	case wr = <-store.writeDone:
	case <-time.After(3 * time.Second):
		t.Fatal("WriteChunk not interrupted by shutdown")
	}
	// tusd ends the body with io.EOF for the store and keeps the cause
	// (ErrServerShutdown) for the response.
	if wr.n != 1000 || wr.err != nil {
		t.Errorf("WriteChunk read %d bytes, err %v; want 1000, EOF", wr.n, wr.err)
	}
	if wr.ctxErr != nil {
		t.Errorf("store context already done at interruption: %v", wr.ctxErr)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	if got := store.offset("up1"); got != 1000 {
		t.Errorf("offset after shutdown = %d, want 1000", got)
	}
	r := <-patched
	if r.err != nil {
		t.Fatalf("interrupted PATCH got no response: %v", r.err)
	}
	defer r.res.Body.Close()
	body, _ := io.ReadAll(r.res.Body)
	if r.res.StatusCode != http.StatusServiceUnavailable || r.res.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), handler.ErrServerShutdown.ErrorCode) {
		t.Errorf("interrupted PATCH answered %d %q, Retry-After %q", r.res.StatusCode, body, r.res.Header.Get("Retry-After"))
	}
}

func TestServeFailsOnClosedListener(t *testing.T) {
	s, err := New(Config{StoreComposer: newMemStore().composer(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := s.Serve(t.Context(), ln); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

func waitFor(t *testing.T, ch <-chan int64, n int64) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-ch:
			if got >= n {
				return
			}
		case <-timeout:
			t.Fatalf("store did not receive %d bytes", n)
		}
	}
}
