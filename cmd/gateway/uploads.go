package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/events"
	"github.com/vodgate/vodgate/internal/idempotency"
	"github.com/vodgate/vodgate/internal/reaper"
	"github.com/vodgate/vodgate/internal/uploadapi"
	"github.com/vodgate/vodgate/internal/uploadlist"
	"github.com/vodgate/vodgate/tusstore"
	"github.com/vodgate/vodgate/vodbridge"
)

// liveFunc adapts a function to uploadlist.Live, so the list can be built
// before the store it reads (the store reports to the list).
type liveFunc func(ctx context.Context, ids []string) ([]tusstore.Progress, error)

func (f liveFunc) Progress(ctx context.Context, ids []string) ([]tusstore.Progress, error) {
	return f(ctx, ids)
}

// newCatalog builds the upload list; *store is read when the list is
// used, after build has set it.
func newCatalog(cfg Config, rdb redis.UniversalClient, store **tusstore.Store, outbox *events.Outbox,
	logger *slog.Logger) (*uploadlist.Catalog, error) {
	var notifier uploadlist.Notifier
	if outbox != nil {
		notifier = outbox
	}
	return uploadlist.New(uploadlist.Config{
		Notifier: notifier,
		Redis:    rdb, Prefix: cfg.RedisPrefix, HistoryTTL: cfg.HistoryTTL, StallAfter: cfg.StallAfter, Logger: logger,
		Live: liveFunc(func(ctx context.Context, ids []string) ([]tusstore.Progress, error) {
			return (*store).Progress(ctx, ids)
		}),
	})
}

// uploadsDeps is what the upload API and the reaper are built from.
type uploadsDeps struct {
	rdb     redis.UniversalClient
	catalog *uploadlist.Catalog
	store   *tusstore.Store
	locker  handler.Locker
	vod     *vodbridge.Client
	auth    *auth.Authenticator
	reg     prometheus.Registerer
	logger  *slog.Logger
}

// buildUploadAPI returns the routes of the upload API, or none when it may
// not run: with authentication off it answers only in -dev (or to admin
// keys), and otherwise its paths get 404.
func buildUploadAPI(cfg Config, d uploadsDeps, readFile func(string) ([]byte, error)) (map[string]http.Handler, error) {
	var adminKeys []string
	if cfg.APIAdminKeyFile != "" {
		keys, err := readKeys(readFile, "api-admin-key-file", cfg.APIAdminKeyFile)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			adminKeys = append(adminKeys, string(k))
		}
	}
	authOn := d.auth.Enabled()
	if !authOn && !cfg.Dev && len(adminKeys) == 0 {
		d.logger.Warn("UploadAPIDisabled", "path", cfg.APIBasePath,
			"reason", "authentication is off outside -dev: the upload API would show everyone's uploads; "+
				"configure authentication or api-admin-key-file to enable it")
		return map[string]http.Handler{}, nil
	}
	api, err := uploadapi.New(uploadapi.Config{
		BasePath: cfg.APIBasePath, UploadURL: uploadURL(cfg), Lister: d.catalog,
		Cancel: func(ctx context.Context, id string, deleteMedia bool) (bool, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.AcquireLockTimeout)
			defer cancel()
			return d.store.Cancel(ctx, id, deleteMedia, d.locker)
		},
		DeleteMedia: func(ctx context.Context, mediaType, mediaID string) error {
			err := d.vod.DeleteMedia(ctx, vodbridge.MediaType(mediaType), mediaID)
			if errors.Is(err, vodbridge.ErrNotFound) {
				return nil
			}
			return err
		},
		IdentityOf: func(ctx context.Context) (uploadapi.Identity, bool) {
			c, ok := auth.CallerOf(ctx)
			return uploadapi.Identity{Owner: c.Owner, Admin: c.Admin}, ok
		},
		Authenticate: d.auth.Middleware, AdminKeys: adminKeys, Open: cfg.Dev && !authOn,
		Registry: d.reg, Logger: d.logger,
	})
	if err != nil {
		return nil, err
	}
	routes := map[string]http.Handler{}
	for _, p := range api.Patterns() {
		routes[p] = api
	}
	return routes, nil
}

// buildIdempotency makes tus creations with an Idempotency-Key idempotent.
func buildIdempotency(cfg Config, d uploadsDeps) (*idempotency.Keys, error) {
	return idempotency.New(idempotency.Config{
		Redis: d.rdb, Prefix: cfg.RedisPrefix, BasePath: cfg.BasePath, UploadURL: uploadURL(cfg),
		OwnerOf: auth.OwnerOf, WithReference: tusstore.WithReference,
		Progress: func(ctx context.Context, id string) (int64, bool, error) {
			p, err := d.store.Progress(ctx, []string{id})
			if err != nil {
				return 0, false, err
			}
			return p[0].Offset, p[0].Found, nil
		},
		TTL: cfg.IdempotencyTTL, StaleAfter: cfg.IdempotencyStaleAfter, Registry: d.reg, Logger: d.logger,
	})
}

// startReaper runs the reaper until the returned stop is called.
func startReaper(ctx context.Context, cfg Config, d uploadsDeps) (stop func() error, err error) {
	deleteMedia := cfg.ExpiredMedia == "delete"
	r, err := reaper.New(reaper.Config{
		Redis: d.rdb, List: d.catalog, Store: d.store, Prefix: cfg.RedisPrefix,
		Reap: func(ctx context.Context, id string) (bool, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.AcquireLockTimeout)
			defer cancel()
			return d.store.Reap(ctx, id, deleteMedia, d.locker)
		},
		Interval: cfg.ReaperInterval, VODQPS: cfg.ReaperVODQPS, Registry: d.reg, Logger: d.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(rctx) }()
	return func() error { cancel(); <-done; return nil }, nil
}

// accelerateEndpoint is the OSS acceleration endpoint when oss-accelerate
// is on, else "".
func accelerateEndpoint(on bool) string {
	if on {
		return "https://oss-accelerate.aliyuncs.com"
	}
	return ""
}

// uploadURL builds upload URLs for the upload API and idempotent replays:
// under public-url when set, else on the scheme and host the request came
// to (the forwarded ones with behind-proxy), as tusd builds Location.
func uploadURL(cfg Config) func(r *http.Request, id string) string {
	path := "/" + strings.Trim(cfg.BasePath, "/") + "/"
	return func(r *http.Request, id string) string {
		if cfg.PublicURL != "" {
			return strings.TrimSuffix(cfg.PublicURL, "/") + path + id
		}
		scheme, host := "http", r.Host
		if r.TLS != nil {
			scheme = "https"
		}
		if cfg.BehindProxy {
			if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
				scheme = p
			}
			if h := r.Header.Get("X-Forwarded-Host"); h != "" {
				host = h
			}
		}
		return scheme + "://" + host + path + id
	}
}
