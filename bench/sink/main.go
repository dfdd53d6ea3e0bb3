package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on (loopback only, please)")
	dir := fs.String("dir", "", "write part and object bytes under this directory instead of discarding them")
	etag := fs.String("etag", "md5", "ETag of parts and objects: md5 (real, as S3/OSS) or none (a counter, no hashing)")
	keep := fs.Int64("keep", defaultKeep, "keep put objects up to this many bytes in memory so GET returns them")
	keepSuffixes := fs.String("keep-suffixes", ".info,.part", "keep only put objects whose names end in one of these (comma-separated; tusd reads its .info and .part objects back); * keeps all")
	addrFile := fs.String("addr-file", "", "write the base URL to this file once listening")
	verbose := fs.Bool("v", false, "log every request (method, path, query, status, bytes) to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := Config{Dir: *dir, ETag: *etag, Keep: *keep, KeepSuffixes: []string{}}
	if *keepSuffixes == "*" {
		cfg.KeepSuffixes = []string{""} // every name ends in ""
	} else if *keepSuffixes != "" {
		cfg.KeepSuffixes = strings.Split(*keepSuffixes, ",")
	}
	srv, err := New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	url := "http://" + ln.Addr().String()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(url+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "sink: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "sink listening on %s\n", url)

	var h http.Handler = srv
	if *verbose {
		h = logRequests(srv, stderr)
	}
	hs := &http.Server{Handler: h, ConnState: srv.ConnState, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return 0
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs one line per request after it is served.
func logRequests(next http.Handler, out io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		mu.Lock()
		fmt.Fprintf(out, "%s %s %s?%s %d len=%d %s\n", start.Format("15:04:05.000"), r.Method, r.URL.Path,
			r.URL.RawQuery, sw.status, r.ContentLength, time.Since(start).Round(time.Microsecond))
		mu.Unlock()
	})
}
