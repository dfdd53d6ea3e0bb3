package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// serving is an Edge serving an http.Server on a loopback port.
type serving struct {
	edge   *Edge
	srv    *http.Server
	addr   string
	roots  *x509.CertPool
	served chan error
	cancel context.CancelCauseFunc
}

func serve(t *testing.T, cfg Config, h http.Handler) *serving {
	t.Helper()
	roots := x509.NewCertPool()
	if cfg.CertFile == "" && (cfg.HTTP3 || cfg.KeyFile == "-") {
		dir := t.TempDir()
		cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		writePair(t, cfg.CertFile, cfg.KeyFile, 1)
	}
	if cfg.CertFile != "" {
		b, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		roots.AppendCertsFromPEM(b)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base, cancel := context.WithCancelCause(context.Background())
	s := &serving{edge: e, addr: ln.Addr().String(), roots: roots, served: make(chan error, 1), cancel: cancel,
		srv: &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return base }}}
	go func() { s.served <- e.Serve(s.srv, ln) }()
	t.Cleanup(func() {
		cancel(nil)
		_ = s.srv.Close()
		_ = e.Close()
	})
	return s
}

func (s *serving) client(t *testing.T, proto string) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: s.roots}
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		t.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	var p http.Protocols
	p.SetHTTP1(proto == "h1")
	p.SetHTTP2(proto == "h2")
	p.SetUnencryptedHTTP2(proto == "h2c")
	tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// echo answers with the protocol and the body length, and sets a
// Connection header as the limits' slow-client cut does.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	w.Header().Set("Connection", "close")
	fmt.Fprintf(w, "%s %d", r.Proto, n)
})

func TestServeProtocols(t *testing.T) {
	tlsEdge := serve(t, Config{HTTP3: true}, echo)
	plain := serve(t, Config{H2C: true}, echo)
	plainNoH2C := serve(t, Config{}, echo)
	_, port, _ := net.SplitHostPort(tlsEdge.addr)
	for _, tc := range []struct {
		proto, url string
		s          *serving
		want       string // "" = the request must fail
		altSvc     string
	}{
		{"h1", "https://", tlsEdge, "HTTP/1.1 5", `h3=":` + port + `"; ma=86400`},
		{"h2", "https://", tlsEdge, "HTTP/2.0 5", `h3=":` + port + `"; ma=86400`},
		{"h3", "https://", tlsEdge, "HTTP/3.0 5", ""},
		{"h1", "http://", plain, "HTTP/1.1 5", ""},
		{"h2c", "http://", plain, "HTTP/2.0 5", ""},
		{"h2c", "http://", plainNoH2C, "", ""},
	} {
		t.Run(tc.proto+" "+tc.url+tc.s.addr, func(t *testing.T) {
			resp, err := tc.s.client(t, tc.proto).Post(tc.url+tc.s.addr+"/", "text/plain", strings.NewReader("hello"))
			if tc.want == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("h2c to a listener without h2c: %s %s, want an error", resp.Proto, resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Errorf("body %q, want %q", b, tc.want)
			}
			if got := resp.Header.Get("Alt-Svc"); got != tc.altSvc {
				t.Errorf("Alt-Svc %q, want %q", got, tc.altSvc)
			}
		})
	}
}

// TestShutdownHTTP3 checks that an HTTP/3 request's context is cancelled
// with the base context's cause (tusd's ErrServerShutdown in the gateway),
// its response still reaches the client, and Shutdown returns once the
// handler did.
func TestShutdownHTTP3(t *testing.T) {
	errShutdown := errors.New("test: shutting down")
	causes := make(chan error, 1)
	started := make(chan struct{})
	s := serve(t, Config{HTTP3: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		causes <- context.Cause(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	c := s.client(t, "h3")
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Get("https://" + s.addr + "/")
		done <- result{resp, err}
	}()
	<-started
	s.cancel(errShutdown) // what http.Server.Shutdown does through RegisterOnShutdown in internal/server
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.edge.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if got := <-causes; !errors.Is(got, errShutdown) {
		t.Errorf("request context cause %v, want %v", got, errShutdown)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("response lost at shutdown: %v", r.err)
	}
	r.resp.Body.Close()
	if r.resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %s, want 503", r.resp.Status)
	}
	// The UDP port is free again.
	udp, err := net.ListenPacket("udp", s.addr)
	if err != nil {
		t.Errorf("UDP port still bound after Shutdown: %v", err)
	} else {
		udp.Close()
	}
}

// TestServeTCPFailureStopsHTTP3 checks that Serve returns (and frees the
// UDP port) when the TCP listener fails, rather than waiting on HTTP/3.
func TestServeTCPFailureStopsHTTP3(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, cf, kf, 1)
	e, err := New(Config{CertFile: cf, KeyFile: kf, HTTP3: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	done := make(chan error, 1)
	go func() { done <- e.Serve(&http.Server{Handler: echo}, ln) }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve on a closed listener: %v, want its error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the TCP listener failed")
	}
	if udp, err := net.ListenPacket("udp", addr); err != nil {
		t.Errorf("UDP port still bound: %v", err)
	} else {
		udp.Close()
	}
}
