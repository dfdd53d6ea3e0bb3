package main

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/vodgate/vodgate/internal/devpage"
	"github.com/vodgate/vodgate/internal/devstack"
)

// pageRoutes returns the browser page's routes when -dev or demo-page asks
// for it, else nil. With dev, the page shows the simulated VOD's media
// status and links to the simulators; authOn adds a token field.
func pageRoutes(cfg Config, dev *devstack.Stack, authOn bool, logger *slog.Logger) (map[string]http.Handler, error) {
	if !cfg.Dev && !cfg.DemoPage {
		return nil, nil
	}
	base := cfg.BasePath
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	if base == "/" {
		logger.Warn("DemoPageDisabled", "message", "base-path / leaves no room for the page at /")
		return nil, nil
	}
	pc := devpage.Config{Endpoint: base, Auth: authOn, Logger: logger.With("component", "devpage")}
	if dev != nil {
		pc.VODURL, pc.OSSURL = dev.VODURL(), dev.OSSURL()
	}
	p, err := devpage.New(pc)
	if err != nil {
		return nil, err
	}
	return p.Routes(), nil
}
