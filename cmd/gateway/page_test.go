package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestPageRoutes: the page is served with -dev or demo-page, never by default.
func TestPageRoutes(t *testing.T) {
	tests := []struct {
		name      string
		dev, demo bool
		basePath  string
		want      bool
	}{
		{"default", false, false, "/files/", false},
		{"demo-page", false, true, "/files/", true},
		{"dev", true, false, "/files", true},
		{"tus at the root", true, false, "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Dev, cfg.DemoPage, cfg.BasePath = tt.dev, tt.demo, tt.basePath
			rs, err := pageRoutes(cfg, nil, false, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if _, got := rs["GET /{$}"]; got != tt.want {
				t.Errorf("page served = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBuildFailureReleases: a build that fails (its listen address is
// taken) returns the error and releases what it built, without panicking.
func TestBuildFailureReleases(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultConfig()
	cfg.Dev, cfg.Listen, cfg.DevDataDir = true, ln.Addr().String(), t.TempDir()
	cfg.DevOSSListen, cfg.DevVODListen, cfg.DevRedisListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	a, err := build(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || a != nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("build on a taken address = %v, %v; want a listen error", a, err)
	}
}
