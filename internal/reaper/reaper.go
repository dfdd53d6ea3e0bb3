// Package reaper ends abandoned uploads: those past their expiry get their
// OSS multipart upload aborted, their media deleted or kept, and their
// record removed, and are listed as expired. One instance reaps at a time,
// under a lease in Redis; every step tolerates having been done before,
// so a reaper killed mid-pass loses nothing and the next pass finishes.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/vodgate/vodgate/internal/lease"
	"github.com/vodgate/vodgate/tusstore"
)

// Defaults applied by [Config].
const (
	DefaultInterval = time.Minute
	DefaultVODQPS   = 10 // DeleteMultipartUpload's per-account limit, the lowest of the calls involved
	batchSize       = 200
)

// List is the upload list the reaper walks; *uploadlist.Catalog
// implements it.
type List interface {
	LiveIDs(ctx context.Context, afterScore int64, afterID string, n int) ([]string, []int64, error)
	Ended(ctx context.Context, e tusstore.End) error
	// Stalled tells the list that an upload has had no byte for a while;
	// the list decides whether that is a stall to report.
	Stalled(ctx context.Context, id string, p tusstore.Progress) error
}

// Store reads records and reaps uploads; *tusstore.Store implements
// Progress, and Reap is its Reap with the locker and media policy bound.
type Store interface {
	Progress(ctx context.Context, ids []string) ([]tusstore.Progress, error)
}

// Config configures a [Reaper]. Redis, List, Store and Reap are required.
type Config struct {
	Redis redis.UniversalClient
	List  List
	Store Store
	// Reap ends one expired upload (tusstore.Store.Reap) and reports
	// whether it did.
	Reap func(ctx context.Context, id string) (bool, error)
	// Prefix starts the lease key. Default: "vodgate".
	Prefix string
	// Interval is the time between passes. Default: 1m.
	Interval time.Duration
	// VODQPS bounds the uploads reaped per second, so the VOD calls a
	// reap makes stay under VOD's per-account limits. Default: 10.
	VODQPS   float64
	Clock    func() time.Time
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Reaper runs passes until its context ends.
type Reaper struct {
	cfg      Config
	lease    *lease.Lease
	limiter  *rate.Limiter
	log      *slog.Logger
	outcomes *prometheus.CounterVec
	passes   prometheus.Counter
}

// New returns a Reaper. It does no I/O.
func New(cfg Config) (*Reaper, error) {
	if cfg.Redis == nil || cfg.List == nil || cfg.Store == nil || cfg.Reap == nil {
		return nil, errors.New("reaper: Redis, List, Store and Reap are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.VODQPS <= 0 {
		cfg.VODQPS = DefaultVODQPS
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The lease outlives a pass's pauses; it is renewed after every batch
	// and every reaped upload, so a reaper that died frees it soon.
	ttl := max(2*cfg.Interval, 10*time.Second)
	r := &Reaper{cfg: cfg, lease: lease.New(cfg.Redis, cfg.Prefix+":reaper:lease", ttl), limiter: rate.NewLimiter(rate.Limit(cfg.VODQPS), 1),
		log: cfg.Logger.With("component", "reaper"),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_reaper_uploads_total",
			Help: "Uploads the reaper looked at, by outcome (reaped, busy, failed, reconciled)."}, []string{"outcome"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_reaper_passes_total",
			Help: "Reaper passes run while holding the lease."}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{r.outcomes, r.passes} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("reaper: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Run runs a pass every Interval until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "ReaperPassFailed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass reaps every expired upload once, if this instance gets the lease;
// another instance holding it makes Pass return nil at once.
func (r *Reaper) Pass(ctx context.Context) error {
	ok, err := r.lease.Acquire(ctx)
	if err != nil || !ok {
		return err
	}
	defer func() {
		if err := r.lease.Release(context.WithoutCancel(ctx)); err != nil {
			r.log.WarnContext(ctx, "ReaperLeaseNotReleased", "error", err)
		}
	}()
	r.passes.Inc()
	var score int64
	var after string
	for {
		ids, scores, err := r.cfg.List.LiveIDs(ctx, score, after, batchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := r.batch(ctx, ids); err != nil {
			return err
		}
		score, after = scores[len(scores)-1], ids[len(ids)-1]
		if err := r.renew(ctx); err != nil {
			return err
		}
	}
}

// renew extends the lease; it fails when another instance holds it now.
func (r *Reaper) renew(ctx context.Context) error {
	if err := r.lease.Renew(ctx); err != nil {
		return fmt.Errorf("reaper: mid-pass: %w", err)
	}
	return nil
}

// batch reaps the expired uploads among ids and reconciles the list with
// records that ended without the list hearing of it.
func (r *Reaper) batch(ctx context.Context, ids []string) error {
	prog, err := r.cfg.Store.Progress(ctx, ids)
	if err != nil {
		return err
	}
	now := r.cfg.Clock()
	for i, p := range prog {
		id := ids[i]
		switch {
		case !p.Found:
			r.reconcile(ctx, tusstore.End{ID: id, State: tusstore.StateExpired})
		case p.Finished:
			r.reconcile(ctx, tusstore.End{ID: id, State: tusstore.StateComplete, Offset: p.Offset, CRC64: p.CRC64})
		case now.After(p.Expires):
			if err := r.limiter.Wait(ctx); err != nil {
				return err
			}
			if err := r.renew(ctx); err != nil {
				return err
			}
			r.reap(ctx, id)
		default:
			if err := r.cfg.List.Stalled(ctx, id, p); err != nil {
				r.log.WarnContext(ctx, "StallCheckFailed", "id", id, "error", err)
			}
		}
	}
	return nil
}

func (r *Reaper) reap(ctx context.Context, id string) {
	reaped, err := r.cfg.Reap(ctx, id)
	switch {
	case errors.Is(err, tusstore.ErrUploadBusy):
		r.outcomes.WithLabelValues("busy").Inc()
	case err != nil:
		r.outcomes.WithLabelValues("failed").Inc()
		r.log.WarnContext(ctx, "ReapFailed", "id", id, "error", err)
	case reaped:
		r.outcomes.WithLabelValues("reaped").Inc()
		r.log.InfoContext(ctx, "UploadReaped", "id", id)
	}
}

func (r *Reaper) reconcile(ctx context.Context, e tusstore.End) {
	if err := r.cfg.List.Ended(ctx, e); err != nil {
		r.log.WarnContext(ctx, "ReconcileFailed", "id", e.ID, "error", err)
		return
	}
	r.outcomes.WithLabelValues("reconciled").Inc()
}
