package main

import (
	"log/slog"
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
