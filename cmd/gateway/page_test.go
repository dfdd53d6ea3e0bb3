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
		want      bool
	}{
		{"default", false, false, false},
		{"demo-page", false, true, true},
		{"dev", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Dev, cfg.DemoPage = tt.dev, tt.demo
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
