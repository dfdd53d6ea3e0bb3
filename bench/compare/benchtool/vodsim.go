package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// Development credentials the VOD simulator accepts (as in -dev mode).
const (
	simAccessKeyID     = "bench-access-key-id"
	simAccessKeySecret = "bench-access-key-secret"
)

// vodsimCmd runs the VOD simulator with its OSS simulator until SIGTERM.
// The gateway gets its upload credentials from it but sends its OSS
// traffic to the sink (oss-endpoint), which accepts any signature; the OSS
// simulator only exists because the VOD simulator registers credentials
// there.
func vodsimCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vodsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addrFile := fs.String("addr-file", "", "write VOD=host:port and OSS=url lines here once listening")
	stubOSS := fs.String("stub", "", "instead of the simulators, run a VOD stub whose UploadAddress points at this OSS URL (the sink)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var out string
	if *stubOSS != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		hs := &http.Server{Handler: &vodStub{ossURL: *stubOSS, region: "cn-shanghai"}, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		out = fmt.Sprintf("VOD=%s\nOSS=%s\n", ln.Addr(), *stubOSS)
	} else {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		oss := osstest.NewServer(osstest.Config{Logger: log})
		defer oss.Close()
		vod := vodtest.NewServer(vodtest.Config{
			OSS:        oss,
			AccessKeys: map[string]string{simAccessKeyID: simAccessKeySecret},
			Logger:     log,
		})
		defer vod.Close()
		out = fmt.Sprintf("VOD=%s\nOSS=%s\n", vod.Endpoint(), oss.URL())
	}
	if !announce(stdout, stderr, *addrFile, out) {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}

// announce writes out (the addresses a subcommand serves on) to addrFile,
// if set, through a rename so a reader never sees half of it, and to
// stdout. It reports a failure on stderr and returns false.
func announce(stdout, stderr io.Writer, addrFile, out string) bool {
	if addrFile != "" {
		if err := os.WriteFile(addrFile+".tmp", []byte(out), 0o644); err != nil {
			fmt.Fprintln(stderr, err)
			return false
		}
		if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
			fmt.Fprintln(stderr, err)
			return false
		}
	}
	fmt.Fprint(stdout, out)
	return true
}
