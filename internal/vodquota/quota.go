// Package vodquota keeps the whole fleet of gateways under VOD's
// per-account API limits: a token bucket (GCRA) per class of VOD
// operation in Redis, shared by every instance, that a call waits on for
// a bounded time; a throttling answer from VOD pauses the class for every
// instance at once.
package vodquota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Operation classes and their default limits (calls per second per
// account, VOD's documented ones for the main regions).
const (
	ClassCreate = "create" // CreateUpload*, RefreshUploadVideo: 80 QPS (40 outside the big regions)
	ClassDelete = "delete" // DeleteMultipartUpload (10 QPS), DeleteVideo, DeleteImage, DeleteAttachedMedia
	ClassOther  = "other"  // everything else

	DefaultCreateQPS = 80
	DefaultDeleteQPS = 10
	DefaultMaxWait   = 2 * time.Second
	// throttlePause is how long a class pauses for every instance after
	// VOD answered a throttling error.
	throttlePause = time.Second
	// slotHeadroom widens the slot between calls of a class (see Wait).
	slotHeadroom = 1.05
)

// ErrQuota is returned when a call would have to wait longer than MaxWait.
var ErrQuota = errors.New("vodquota: VOD's API quota is used up; retry later")

// ClassOf returns the class of VOD action op.
func ClassOf(op string) string {
	switch op {
	case "CreateUploadVideo", "CreateUploadImage", "CreateUploadAttachedMedia", "RefreshUploadVideo":
		return ClassCreate
	case "DeleteMultipartUpload", "DeleteVideo", "DeleteImage", "DeleteAttachedMedia":
		return ClassDelete
	}
	return ClassOther
}

// Config configures a [Quota]. Redis is required.
type Config struct {
	Redis  redis.UniversalClient
	Prefix string
	// QPS is the limit per class; a class missing or at 0 is not limited.
	QPS map[string]float64
	// MaxWait bounds how long a call waits for its turn. Default: 2s.
	MaxWait  time.Duration
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Quota admits VOD calls at the configured rates across all instances.
type Quota struct {
	cfg     Config
	log     *slog.Logger
	waited  *prometheus.HistogramVec
	refused *prometheus.CounterVec
	paused  *prometheus.CounterVec
}

// New returns a Quota. It does no I/O.
func New(cfg Config) (*Quota, error) {
	if cfg.Redis == nil {
		return nil, errors.New("vodquota: Redis is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &Quota{cfg: cfg, log: cfg.Logger.With("component", "vodquota"),
		waited: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vodgate_vod_quota_wait_seconds",
			Help: "Time VOD calls waited for the account's quota, by class.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)},
			[]string{"class"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_vod_quota_refused_total",
			Help: "VOD calls not made because the quota would have made them wait too long, by class."}, []string{"class"}),
		paused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_vod_quota_throttled_total",
			Help: "Throttling answers from VOD that paused a class for the whole fleet, by class."}, []string{"class"}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{q.waited, q.refused, q.paused} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("vodquota: register metrics: %w", err)
			}
		}
	}
	return q, nil
}

// reserveScript reserves the class's next free slot, first come first
// served: KEYS[1] the class's next free time (µs), KEYS[2] its pause key;
// ARGV[1] the interval between calls (µs), ARGV[2] the longest wait (µs).
// The clock is Redis's, the same for every instance. It returns the µs
// to wait until the reserved slot, or -1 (nothing reserved) when that
// would be longer than the longest wait, or the class is paused.
var reserveScript = redis.NewScript(`
if redis.call('PTTL', KEYS[2]) > 0 then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local wait = slot - now
if wait > tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil((wait + interval) / 1000) + 1000)
return wait`)

func (q *Quota) keys(class string) []string {
	k := q.cfg.Prefix + ":vodquota:{" + class + "}"
	return []string{k, k + ":pause"}
}

// Wait blocks until a call of VOD action op may go, or fails with an error
// wrapping ErrQuota if that would take longer than MaxWait (or with ctx's
// error). Calls are spaced evenly, in the order they asked, across all
// instances, a little wider than 1/QPS: at most QPS of a class in any
// second as VOD sees them.
func (q *Quota) Wait(ctx context.Context, op string) error {
	class := ClassOf(op)
	qps := q.cfg.QPS[class]
	if qps <= 0 {
		return nil
	}
	// Slots are 5% wider than 1/QPS: a call leaves at its slot but reaches
	// VOD a little early or late (timers, scheduling, the network), and VOD
	// counts arrivals; exact spacing let 41 of 40 land in one second.
	interval := int64(1e6 / qps * slotHeadroom)
	wait, err := reserveScript.Run(ctx, q.cfg.Redis, q.keys(class), interval, q.cfg.MaxWait.Microseconds()).Int64()
	if err != nil {
		// Redis down: do not stop uploads over it; VOD's own throttling
		// remains the backstop.
		q.log.WarnContext(ctx, "VODQuotaUnavailable", "class", class, "error", err)
		return nil
	}
	if wait < 0 {
		q.refused.WithLabelValues(class).Inc()
		return fmt.Errorf("%w (%s, %g per second)", ErrQuota, class, qps)
	}
	d := time.Duration(wait) * time.Microsecond
	q.waited.WithLabelValues(class).Observe(d.Seconds())
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err() // the slot stays reserved and goes unused
	case <-t.C:
		return nil
	}
}

// Throttled pauses op's class for every instance after VOD answered a
// throttling error.
func (q *Quota) Throttled(ctx context.Context, op string) {
	class := ClassOf(op)
	q.paused.WithLabelValues(class).Inc()
	if err := q.cfg.Redis.Set(ctx, q.keys(class)[1], 1, throttlePause).Err(); err != nil {
		q.log.WarnContext(ctx, "VODQuotaPauseFailed", "class", class, "error", err)
	}
}
