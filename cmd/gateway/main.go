package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vodgate/vodgate/internal/server"
	"github.com/vodgate/vodgate/internal/tracing"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is the whole program: it returns 0 after a clean shutdown, 1 when
// the gateway fails to start or serve, and 2 for usage and configuration
// errors.
func run(args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], env, os.ReadFile, stdout, stderr)
	}
	cfg, opts, err := Load(args, env, os.ReadFile, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	case opts.Version:
		fmt.Fprintln(stdout, "gateway", version())
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "gateway: invalid configuration:\n%v\n", err)
		return 2
	}
	logger, err := server.NewLogger(stderr, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	}
	for _, w := range opts.Warnings {
		logger.Warn("ConfigWarning", "message", w)
	}

	// The first SIGTERM/SIGINT starts a graceful shutdown; once it has,
	// the default handling is restored so a second signal exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	tr, err := tracing.Setup(ctx, tracing.Config{Env: tracing.Env(env), Configured: cfg.Tracing, ServiceVersion: version(),
		Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	}
	if tr != nil {
		logger = slog.New(tracing.LogHandler(logger.Handler()))
		defer shutdownTracing(tr, logger)
	}

	logger.InfoContext(ctx, "GatewayStarting", "version", version(), "config", cfg, "tracing", tr != nil)
	a, err := build(ctx, cfg, logger, tr)
	if err != nil {
		logger.ErrorContext(ctx, "StartupFailed", "error", err)
		return 1
	}
	if a.dev != nil {
		u := tusURL(a.ln.Addr().String(), cfg.BasePath)
		if a.edge.TLS() {
			u = "https" + strings.TrimPrefix(u, "http")
		}
		fmt.Fprint(stdout, a.dev.Banner(u, bannerTokenCmd(cfg)))
		root := tusURL(a.ln.Addr().String(), "/")
		if a.edge.TLS() {
			root = "https" + strings.TrimPrefix(root, "http")
		}
		fmt.Fprintf(stdout, "\nOr open %s in a browser: drop files, watch them become VOD media.\n\n", root)
	}
	if a.edge.Certs() != nil {
		// SIGHUP re-reads the certificate files (they are also re-read
		// when they change); without them it keeps its default action.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				if err := a.edge.Reload(); err == nil {
					logger.InfoContext(ctx, "CertificateReloaded", "reason", "SIGHUP")
				}
			}
		}()
	}
	code := 0
	if err := a.server.Serve(ctx, a.ln); err != nil {
		logger.ErrorContext(ctx, "ServeFailed", "error", err)
		code = 1
	}
	if err := a.close(); err != nil {
		logger.WarnContext(ctx, "CloseFailed", "error", err)
	}
	logger.InfoContext(ctx, "GatewayStopped", "code", code)
	return code
}

// shutdownTracing exports the spans still buffered, within a bound.
func shutdownTracing(tr *tracing.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		logger.Warn("TracingShutdownFailed", "error", err)
	}
}

// tracingShutdownTimeout bounds the export of the last spans at exit.
const tracingShutdownTimeout = 5 * time.Second

// bannerTokenCmd is the shell command the -dev banner gives for a bearer
// token when authentication is on, or "" when it is off.
func bannerTokenCmd(cfg Config) string {
	switch {
	case cfg.AuthUploadTokenKeyFile != "":
		return "go run ./cmd/gateway token -key-file " + cfg.AuthUploadTokenKeyFile + " -sub dev -ttl 1h"
	case cfg.AuthJWTSecretFile != "" || cfg.AuthJWKSURL != "":
		return "echo PASTE-A-JWT-FROM-YOUR-ISSUER"
	}
	return ""
}
