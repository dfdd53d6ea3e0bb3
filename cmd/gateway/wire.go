package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tus/tusd/v2/pkg/handler"
	"go.opentelemetry.io/otel/trace"

	"github.com/vodgate/vodgate/internal/acme"
	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/checksum"
	"github.com/vodgate/vodgate/internal/concatgroup"
	"github.com/vodgate/vodgate/internal/devstack"
	"github.com/vodgate/vodgate/internal/edge"
	"github.com/vodgate/vodgate/internal/redisstate"
	"github.com/vodgate/vodgate/internal/resumable"
	"github.com/vodgate/vodgate/internal/server"
	"github.com/vodgate/vodgate/internal/tracing"
	"github.com/vodgate/vodgate/internal/userdata"
	"github.com/vodgate/vodgate/internal/vodquota"
	"github.com/vodgate/vodgate/locker"
	"github.com/vodgate/vodgate/tusstore"
	"github.com/vodgate/vodgate/vodbridge"
)

// startupPingTimeout bounds the Redis check at startup.
const startupPingTimeout = 5 * time.Second

// app is the wired gateway. close releases everything in reverse order of
// construction.
type app struct {
	server  *server.Server
	edge    *edge.Edge
	ln      net.Listener
	dev     *devstack.Stack
	closers []func() error
}

func (a *app) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

// startDev starts the dev stack and points cfg at it.
func startDev(cfg *Config, logger *slog.Logger) (*devstack.Stack, error) {
	dev, err := devstack.Start(devstack.Config{
		DataDir: cfg.DevDataDir, OSSAddr: cfg.DevOSSListen, VODAddr: cfg.DevVODListen,
		RedisAddr: cfg.DevRedisListen, Region: cfg.VODRegion, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	o := dev.Overrides()
	logger.Info("DevStackStarted", "oss", dev.OSSURL(), "vod", dev.VODURL(), "redis", dev.RedisAddr(),
		"dataDir", cfg.DevDataDir)
	cfg.VODEndpoint, cfg.VODProtocol, cfg.VODRegion = o.VODEndpoint, o.VODProtocol, o.VODRegion
	cfg.AccessKeyID, cfg.AccessKeySecret, cfg.SecurityToken = o.AccessKeyID, o.AccessKeySecret, ""
	cfg.RedisURL, cfg.OSSEndpoint = o.RedisURL, ""
	return dev, nil
}

// build constructs every dependency and listens; nothing serves yet. On
// error, whatever was built is released. tr, if not nil, traces requests,
// Redis commands, lock acquisitions, VOD and OSS calls.
func build(ctx context.Context, cfg Config, logger *slog.Logger, tr *tracing.Tracing) (_ *app, err error) {
	a := &app{}
	defer func() {
		if err != nil {
			_ = a.close() // a, not the result, which `return nil, err` has set to nil
		}
	}()
	if cfg.Dev {
		if a.dev, err = startDev(&cfg, logger); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { a.dev.Close(); return nil })
	}

	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}

	rdb, raddr, err := newRedis(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, rdb.Close)
	var tp trace.TracerProvider // nil: no spans anywhere
	if tr != nil {
		tp = tr.TracerProvider()
		rdb.AddHook(tr.RedisHook())
	}
	pingCtx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		logger.WarnContext(ctx, "RedisUnavailable", "addr", raddr, "error", err)
	}
	cancel()

	quota, err := vodquota.New(vodquota.Config{Redis: rdb, Prefix: cfg.RedisPrefix, MaxWait: cfg.VODQuotaWait,
		QPS: map[string]float64{vodquota.ClassCreate: cfg.VODQuotaCreateQPS, vodquota.ClassDelete: cfg.VODQuotaDeleteQPS,
			vodquota.ClassOther: cfg.VODQuotaOtherQPS}, Registry: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	vod, err := vodbridge.New(vodbridge.Config{
		AccessKeyID: cfg.AccessKeyID, AccessKeySecret: cfg.AccessKeySecret, SecurityToken: cfg.SecurityToken,
		Region: cfg.VODRegion, Endpoint: cfg.VODEndpoint, Protocol: cfg.VODProtocol,
		Timeout: cfg.VODTimeout, MaxAttempts: cfg.VODMaxAttempts, Logger: logger, TracerProvider: tp, Quota: quota,
	})
	if err != nil {
		return nil, err
	}
	// Records outlive the upload's expiry by a day, so a finished upload's
	// HEAD keeps answering for a while and expired ones answer 404.
	records := redisstate.New(rdb, redisstate.Config{Prefix: cfg.RedisPrefix, TTL: cfg.Expiration + 24*time.Hour,
		WaitReplicas: cfg.RedisWaitReplicas, WaitTimeout: cfg.RedisWaitTimeout})

	lcfg := locker.Config{Prefix: cfg.RedisPrefix, TTL: cfg.LockTTL, Logger: logger, TracerProvider: tp}
	if err := lcfg.Validate(); err != nil {
		return nil, err
	}
	lk := locker.New(rdb, lcfg)
	a.closers = append(a.closers, lk.Close)

	g, err := buildGuard(cfg, rdb, os.ReadFile, reg, logger)
	if err != nil {
		return nil, err
	}
	var store *tusstore.Store
	groups := concatgroup.New(rdb, cfg.RedisPrefix+":concat", 0)
	outbox := buildOutbox(cfg, rdb)
	catalog, err := newCatalog(cfg, rdb, &store, outbox, logger)
	if err != nil {
		return nil, err
	}
	store, err = tusstore.New(tusstore.Config{
		VOD: vod, Records: records, Fencer: lk, CallerOf: auth.CallerOf, Journal: withFailpoint(catalog, os.LookupEnv),
		Defaults: tusstore.Defaults{
			TemplateGroupID: cfg.DefaultTemplateGroupID, WorkflowID: cfg.DefaultWorkflowID,
			CateID: cfg.DefaultCateID, StorageLocation: cfg.DefaultStorageLocation,
			AppID: cfg.DefaultAppID, Tags: cfg.DefaultTags, UserData: cfg.DefaultUserData,
		},
		PartSize: int64(cfg.PartSize), MaxSize: int64(cfg.MaxSize), BufferBudget: int64(cfg.BufferBudget),
		RefreshBefore: cfg.RefreshBefore, Expiration: cfg.Expiration,
		DeleteMediaOnTerminate: cfg.DeleteMediaOnTerminate,
		OSSEndpoint:            cfg.OSSEndpoint, OSSAccelerate: accelerateEndpoint(cfg.OSSAccelerate), OSSAuthV4: cfg.OSSAuthV4, OSSRegion: cfg.VODRegion,
		OSSTimeout: cfg.OSSTimeout, OSSAttempts: cfg.OSSAttempts,
		BufferPrefault: cfg.BufferPrefault, OSSParallelParts: cfg.OSSParallelParts,
		Logger: logger, TracerProvider: tp,
		Groups: groups,
	})
	if err != nil {
		return nil, err
	}
	composer := handler.NewStoreComposer()
	store.UseIn(composer)
	lk.UseIn(composer)
	if err := store.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	lk.RegisterMetrics(reg)

	deps := uploadsDeps{rdb: rdb, catalog: catalog, store: store, locker: lk, vod: vod, auth: g.auth, reg: reg, logger: logger}
	routes, err := buildUploadAPI(cfg, deps, os.ReadFile)
	if err != nil {
		return nil, err
	}
	idem, err := buildIdempotency(cfg, deps)
	if err != nil {
		return nil, err
	}
	sums, err := checksum.New(checksum.Config{WithBodyCheck: tusstore.WithBodyCheck, Registry: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	stopReaper, err := startReaper(ctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, stopReaper)
	page, err := pageRoutes(cfg, a.dev, g.auth.Enabled(), logger)
	if err != nil {
		return nil, err
	}
	maps.Copy(routes, page)
	jobs, jobRoutes, err := buildURLJobs(cfg, deps)
	if err != nil {
		return nil, err
	}
	maps.Copy(routes, jobRoutes)
	ed := eventsDeps{rdb: rdb, reg: reg, logger: logger}
	relay, err := buildVODCallback(cfg, ed, outbox, catalog, jobs, os.ReadFile)
	if err != nil {
		return nil, err
	}
	maps.Copy(routes, relay)
	if outbox != nil {
		stopDispatcher, err := startDispatcher(ctx, cfg, ed, os.ReadFile)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, stopDispatcher)
	}
	annotate, outer := func(h http.Handler) http.Handler { return h }, func(h http.Handler) http.Handler { return h }
	if tr != nil {
		annotate = tracing.Annotate(auth.OwnerOf)
		outer = func(h http.Handler) http.Handler { return tr.Middleware(cfg.BasePath, h) }
	}
	traced := outer
	outer = func(h http.Handler) http.Handler { return groups.Middleware(traced(h)) } // partials numbered on arrival
	ecfg := edge.Config{CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile, H2C: cfg.H2C, HTTP3: cfg.HTTP3, Logger: logger}
	if len(cfg.ACMEDomains) > 0 {
		var st acme.Storage = acme.NewRedisStorage(rdb, cfg.RedisPrefix+":acme")
		if cfg.ACMEStorage != "redis" {
			st = acme.FileStorage(cfg.ACMEStorage)
		}
		m, err := acme.New(ctx, acme.Config{Domains: cfg.ACMEDomains, Email: cfg.ACMEEmail, CA: cfg.ACMECA,
			CARootFile: cfg.ACMECARootFile, Storage: st, Logger: logger})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, m.Close)
		ecfg.Source = m
	}
	a.edge, err = edge.New(ecfg)
	if err != nil {
		return nil, err
	}

	maxSize := store.MaxLength() // what max-size and buffer-budget allow, as Tus-Max-Size
	draft := func(h http.Handler) http.Handler { return h }
	if cfg.ResumableUploads {
		if draft, err = resumable.Middleware(resumable.Config{BasePath: strings.TrimSuffix(cfg.BasePath, "/") + "/", MaxSize: maxSize,
			Expiration: cfg.Expiration, Uploads: draftUploads{store}, Registerer: reg}); err != nil {
			return nil, err
		}
	}
	a.server, err = server.New(server.Config{
		Listen: cfg.Listen, BasePath: cfg.BasePath, StoreComposer: composer, MaxSize: maxSize,
		CORSOrigins: cfg.CORSOrigins, BehindProxy: cfg.BehindProxy, PublicURL: cfg.PublicURL,
		Media: store, Gate: store, Expiry: store, Ready: map[string]server.Pinger{"redis": records}, Registry: reg,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
		NetworkTimeout: cfg.NetworkTimeout, RequestCompletionTimeout: cfg.RequestCompletionTimeout,
		AcquireLockTimeout: cfg.AcquireLockTimeout, ShutdownTimeout: cfg.ShutdownTimeout,
		TusMiddleware: func(h http.Handler) http.Handler {
			return g.middleware(annotate(draft(idem.Middleware(sums.Middleware(withBodyLength(h))))))
		},
		CheckClientMetadata: func(m handler.MetaData) error {
			return userdata.Policy{CallbackHosts: cfg.UserDataCallbackHosts, ClientExtend: cfg.UserDataClientExtend,
				AccelerateHosts: cfg.OSSAccelerateHosts}.Check(m["userData"])
		},
		PreUploadCreate:   g.auth.PreUploadCreate,
		PreFinishResponse: g.limits.PreFinishResponse,
		Logger:            logger,
		Routes:            routes,
		Outer:             outer,
		ConnContext:       groups.ConnContext,
		WrapListener:      groups.Listener,
		Transport:         a.edge,
		ResumableUploads:  cfg.ResumableUploads,
		DraftMetadata: func(h http.Header, derived handler.MetaData) handler.MetaData {
			return resumable.Metadata(h, derived, cfg.ResumableDefaultFilename)
		},
	})
	if err != nil {
		return nil, err
	}
	if a.ln, err = a.edge.Listen(cfg.Listen); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { _ = a.ln.Close(); return a.edge.Close() }) // Serve closes them too
	return a, nil
}

// withBodyLength tells the store how long a request body is (its
// Content-Length), so parts the body will fill go to OSS while they arrive.
func withBodyLength(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			r = r.WithContext(tusstore.WithBodyLength(r.Context(), r.ContentLength))
		}
		next.ServeHTTP(w, r)
	})
}

// draftUploads reads an upload's state for the IETF draft layer from the
// store's records (no lock), for the caller's own uploads only.
type draftUploads struct{ store *tusstore.Store }

func (d draftUploads) State(ctx context.Context, id string) (resumable.State, error) {
	// Only the caller's own uploads: the state must not tell others that
	// an upload exists (the server's gate answers them 404).
	if ok, err := d.store.Admit(ctx, id); err != nil || !ok {
		return resumable.State{}, err
	}
	ps, err := d.store.Progress(ctx, []string{id})
	if err != nil || len(ps) != 1 {
		return resumable.State{}, err
	}
	p := ps[0]
	return resumable.State{Found: p.Found, Offset: p.Offset, Size: p.Size, Deferred: p.Deferred,
		Finished: p.Finished, Expires: p.Expires}, nil
}
