package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/events"
	"github.com/vodgate/vodgate/internal/uploadlist"
	"github.com/vodgate/vodgate/internal/urljobs"
	"github.com/vodgate/vodgate/internal/vodcallback"
	"github.com/vodgate/vodgate/tusstore"
)

// eventsDeps is what events are built from.
type eventsDeps struct {
	rdb    redis.UniversalClient
	reg    prometheus.Registerer
	logger *slog.Logger
}

// buildOutbox returns the outbox when webhooks are configured, else nil
// (no events are written).
func buildOutbox(cfg Config, rdb redis.UniversalClient) *events.Outbox {
	if len(cfg.WebhookURL) == 0 {
		return nil
	}
	return events.NewOutbox(rdb, cfg.RedisPrefix)
}

// startDispatcher delivers the outbox to the webhook endpoints until the
// returned stop is called.
func startDispatcher(ctx context.Context, cfg Config, d eventsDeps, readFile func(string) ([]byte, error)) (func() error, error) {
	b, err := readFile(cfg.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook-secret-file: %w", err)
	}
	secrets, err := events.ParseSecrets(string(b))
	if err != nil {
		return nil, fmt.Errorf("webhook-secret-file: %w", err)
	}
	var eps []events.Endpoint
	for _, u := range cfg.WebhookURL {
		ep, err := events.ParseEndpoint(u)
		if err != nil {
			return nil, fmt.Errorf("webhook-url: %w", err)
		}
		eps = append(eps, ep)
	}
	disp, err := events.NewDispatcher(events.DispatcherConfig{
		Redis: d.rdb, Prefix: cfg.RedisPrefix, Endpoints: eps, Secrets: secrets, MaxAge: cfg.WebhookMaxAge,
		Concurrency: cfg.WebhookConcurrency, RetryBase: cfg.WebhookRetryBase, Registry: d.reg, Logger: d.logger,
	})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	return func() error { cancel(); <-done; return nil }, nil
}

// buildVODCallback returns the route of the VOD callback relay, or none
// when vod-callback-key-file is not set.
func buildVODCallback(cfg Config, d eventsDeps, outbox *events.Outbox, catalog *uploadlist.Catalog, jobs *urljobs.Jobs,
	readFile func(string) ([]byte, error)) (map[string]http.Handler, error) {
	if cfg.VODCallbackKeyFile == "" || outbox == nil {
		return nil, nil
	}
	b, err := readFile(cfg.VODCallbackKeyFile)
	if err != nil {
		return nil, fmt.Errorf("vod-callback-key-file: %w", err)
	}
	var keys []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("vod-callback-key-file: %s holds no key", cfg.VODCallbackKeyFile)
	}
	relay, err := vodcallback.New(vodcallback.Config{
		Redis: d.rdb, Prefix: cfg.RedisPrefix, Keys: keys, PublicURL: cfg.PublicURL, Notifier: outbox,
		Lookup: func(ctx context.Context, mediaID string) (vodcallback.Upload, bool, error) {
			it, ok, err := catalog.ByMedia(ctx, mediaID)
			return vodcallback.Upload{ID: it.ID, Owner: it.Owner, State: it.State}, ok, err
		},
		Uploaded: func(ctx context.Context, uploadID string) error {
			it, ok, err := catalog.Get(ctx, uploadID)
			if err != nil || !ok {
				return err
			}
			return catalog.Ended(ctx, tusstore.End{ID: uploadID, State: tusstore.StateComplete, Offset: it.Offset})
		},
		URLJobDone: urlJobDone(jobs), Registry: d.reg, Logger: d.logger,
	})
	if err != nil {
		return nil, err
	}
	return map[string]http.Handler{cfg.VODCallbackPath: relay}, nil
}
