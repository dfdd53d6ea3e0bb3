package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vodgate/vodgate/bench/wan"
)

// wanproxyCmd runs a bench/wan proxy to -target until SIGTERM. It is its
// own process so that its CPU (copying every byte once more) shows apart
// from the servers' and the sink's.
func wanproxyCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wanproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "host:port to forward to (the sink)")
	rtt := fs.Duration("rtt", 0, "round-trip time added per request/response turn (RTT/2 each way)")
	bw := fs.String("bw", "", "bandwidth cap per connection and direction, e.g. 50MiB (per second); empty: none")
	addrFile := fs.String("addr-file", "", "write URL=the proxy's base URL and STATS=the URL of its counters (JSON) here once listening")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rate, err := wan.ParseRate(*bw)
	if err != nil || *target == "" {
		fmt.Fprintf(stderr, "wanproxy: -target is required and -bw must be a rate: %v\n", err)
		return 2
	}
	p, err := wan.Listen("127.0.0.1:0", *target, wan.Config{RTT: *rtt, BytesPerSec: rate})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Serve() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p.Stats())
	})}
	go hs.Serve(ln)
	defer hs.Close()
	out := fmt.Sprintf("URL=http://%s\nSTATS=http://%s/\n", p.Addr(), ln.Addr())
	if !announce(stdout, stderr, *addrFile, out) {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		p.Close()
		return 0
	case err := <-errc:
		fmt.Fprintln(stderr, err)
		return 1
	}
}
