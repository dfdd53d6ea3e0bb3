package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/lease"
)

// Defaults applied by [DispatcherConfig].
const (
	DefaultMaxAge      = 24 * time.Hour
	DefaultConcurrency = 4
	DefaultRetryBase   = time.Second
	maxBackoff         = 10 * time.Minute
	leaseTTL           = 15 * time.Second
	deliveryTimeout    = 10 * time.Second
	laneQueue          = 256
)

// DispatcherConfig configures a [Dispatcher]. Redis, Endpoints and
// Secrets are required.
type DispatcherConfig struct {
	Redis     redis.UniversalClient
	Prefix    string
	Endpoints []Endpoint
	Secrets   []Secret
	// MaxAge is how long an event is retried before it goes to the
	// dead-letter stream. Default: 24h.
	MaxAge time.Duration
	// Concurrency bounds the deliveries in flight per endpoint (events of
	// one upload are delivered one after the other). Default: 4.
	Concurrency int
	// RetryBase is the first retry's delay; each doubles it (with jitter)
	// up to 10 minutes. Default: 1s.
	RetryBase  time.Duration
	HTTPClient *http.Client
	Registry   prometheus.Registerer
	Logger     *slog.Logger
}

// Dispatcher delivers the outbox to every endpoint. For each endpoint one
// instance at a time holds a lease in Redis and delivers in stream order,
// over Concurrency lanes chosen by subject, so one upload's events stay in
// order while a failing one holds up only its lane. Its progress (a
// cursor and the set of entries handled beyond it) is in Redis, so
// another instance takes over where it stopped.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger
	m   *metrics
}

// NewDispatcher returns a Dispatcher. It does no I/O.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Redis == nil || len(cfg.Endpoints) == 0 || len(cfg.Secrets) == 0 {
		return nil, errors.New("events: Redis, Endpoints and Secrets are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: deliveryTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Dispatcher{cfg: cfg, log: cfg.Logger.With("component", "events"), m: newMetrics()}
	if cfg.Registry != nil {
		if err := d.m.register(cfg.Registry); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ep := range d.cfg.Endpoints {
		wg.Add(1)
		go func() { defer wg.Done(); d.endpointLoop(ctx, ep) }()
	}
	wg.Wait()
}

// endpointState is the Redis keys of one endpoint's delivery.
type endpointState struct {
	ep              Endpoint
	label           string
	lease           *lease.Lease
	cursor, handled string
}

func (d *Dispatcher) state(ep Endpoint) endpointState {
	h := fnv.New64a()
	h.Write([]byte(ep.URL))
	k := d.cfg.Prefix + ":events:ep:" + strconv.FormatUint(h.Sum64(), 16)
	label := ep.URL
	if u, err := url.Parse(ep.URL); err == nil {
		label = u.Host + u.Path
	}
	return endpointState{ep: ep, label: label, lease: lease.New(d.cfg.Redis, k+":lease", leaseTTL),
		cursor: k + ":cursor", handled: k + ":handled"}
}

func (d *Dispatcher) endpointLoop(ctx context.Context, ep Endpoint) {
	st := d.state(ep)
	for ctx.Err() == nil {
		if ok, err := st.lease.Acquire(ctx); err == nil && ok {
			if err := d.serve(ctx, st); err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "WebhookDeliveryPaused", "endpoint", st.label, "error", err)
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = st.lease.Release(rctx)
			cancel()
		}
		sleep(ctx, time.Second)
	}
}

// entry is one outbox entry.
type entry struct {
	streamID, id, typ, subject string
	at                         time.Time
	body                       []byte
}

func parseEntry(m redis.XMessage) entry {
	s := func(k string) string { v, _ := m.Values[k].(string); return v }
	ms, _ := strconv.ParseInt(s("at"), 10, 64)
	return entry{streamID: m.ID, id: s("id"), typ: s("type"), subject: s("subject"), at: time.UnixMilli(ms), body: []byte(s("body"))}
}

// serve delivers from the endpoint's cursor while it holds the lease.
func (d *Dispatcher) serve(ctx context.Context, st endpointState) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cursor, err := d.cfg.Redis.Get(ctx, st.cursor).Result()
	if errors.Is(err, redis.Nil) {
		cursor = "0-0"
	} else if err != nil {
		return fmt.Errorf("events: read cursor: %w", err)
	}
	tr := newTracker(cursor)
	lanes := make([]chan entry, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan entry, laneQueue)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range lanes[i] {
				if d.deliver(ctx, st, e) {
					d.markHandled(ctx, st, e, tr)
				}
			}
		}()
	}
	defer func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}()
	// The lease is renewed and the cursor saved on a clock of their own,
	// so lanes held up by a failing endpoint do not lose the lease.
	var lost error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sleep(ctx, leaseTTL/5) {
			if err := d.checkpoint(ctx, st, tr); err != nil {
				lost = err
				cancel()
				return
			}
		}
	}()
	defer func() {
		cancel()
		if lost != nil {
			d.log.WarnContext(context.Background(), "WebhookLeaseLost", "endpoint", st.label, "error", lost)
		}
	}()
	last := cursor
	for ctx.Err() == nil {
		res, err := d.cfg.Redis.XRead(ctx, &redis.XReadArgs{Streams: []string{streamKey(d.cfg.Prefix), last}, Count: 100,
			Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("events: read outbox: %w", err)
		}
		msgs := res[0].Messages
		done := d.alreadyHandled(ctx, st, msgs)
		for i, m := range msgs {
			e := parseEntry(m)
			last = e.streamID
			tr.add(e.streamID, e.at)
			if done[i] || !st.ep.Wants(e.typ) {
				tr.done(e.streamID)
				continue
			}
			h := fnv.New32a()
			h.Write([]byte(e.subject))
			select {
			case lanes[int(h.Sum32())%len(lanes)] <- e:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// checkpoint renews the lease and saves the cursor (the newest entry
// before which every entry was handled).
func (d *Dispatcher) checkpoint(ctx context.Context, st endpointState, tr *tracker) error {
	if err := st.lease.Renew(ctx); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	cursor, oldest := tr.lowWater()
	d.m.lag.WithLabelValues(st.label).Set(oldest)
	if err := d.cfg.Redis.Set(ctx, st.cursor, cursor, 0).Err(); err != nil {
		return fmt.Errorf("events: save cursor: %w", err)
	}
	ms, _, _ := cutID(cursor)
	return d.cfg.Redis.ZRemRangeByScore(ctx, st.handled, "-inf", "("+strconv.FormatInt(ms, 10)).Err()
}

// alreadyHandled reports, per message, whether an earlier lease holder
// handled it (it lies beyond the cursor it saved).
func (d *Dispatcher) alreadyHandled(ctx context.Context, st endpointState, msgs []redis.XMessage) []bool {
	pipe := d.cfg.Redis.Pipeline()
	cmds := make([]*redis.FloatCmd, len(msgs))
	for i, m := range msgs {
		cmds[i] = pipe.ZScore(ctx, st.handled, m.ID)
	}
	_, _ = pipe.Exec(ctx)
	out := make([]bool, len(msgs))
	for i, c := range cmds {
		out[i] = c.Err() == nil
	}
	return out
}

func (d *Dispatcher) markHandled(ctx context.Context, st endpointState, e entry, tr *tracker) {
	ms, _, _ := cutID(e.streamID)
	if err := d.cfg.Redis.ZAdd(ctx, st.handled, redis.Z{Score: float64(ms), Member: e.streamID}).Err(); err != nil {
		d.log.WarnContext(ctx, "WebhookStateNotSaved", "endpoint", st.label, "error", err)
	}
	tr.done(e.streamID)
}

// deliver sends e until the endpoint takes it (2xx), refuses it for good
// (410), or it fails once it is older than MaxAge (dead letter): an event
// that waited behind another in its lane is tried at least once. It
// reports false only when ctx ended first.
func (d *Dispatcher) deliver(ctx context.Context, st endpointState, e entry) bool {
	for attempt := 1; ; attempt++ {
		if attempt > 1 && time.Since(e.at) > d.cfg.MaxAge {
			d.deadLetter(ctx, st, e, attempt-1)
			return true
		}
		status, err := d.post(ctx, st.ep, e)
		d.m.attempts.WithLabelValues(st.label).Inc()
		switch {
		case err == nil && status >= 200 && status < 300:
			d.m.delivered.WithLabelValues(st.label, e.typ).Inc()
			return true
		case err == nil && status == http.StatusGone:
			d.m.failures.WithLabelValues(st.label, "gone").Inc()
			d.log.InfoContext(ctx, "WebhookGone", "endpoint", st.label, "id", e.id, "type", e.typ)
			return true
		case ctx.Err() != nil:
			return false
		case err != nil:
			d.m.failures.WithLabelValues(st.label, "network").Inc()
		default:
			d.m.failures.WithLabelValues(st.label, strconv.Itoa(status)).Inc()
		}
		if !sleep(ctx, backoff(d.cfg.RetryBase, attempt)) {
			return false
		}
	}
}

func (d *Dispatcher) post(ctx context.Context, ep Endpoint, e entry) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(e.body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vodgate-webhooks")
	req.Header.Set("webhook-id", e.id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", Sign(d.cfg.Secrets, e.id, ts, e.body))
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *Dispatcher) deadLetter(ctx context.Context, st endpointState, e entry, attempts int) {
	err := d.cfg.Redis.XAdd(ctx, &redis.XAddArgs{Stream: deadKey(d.cfg.Prefix), MaxLen: maxStreamLen, Approx: true,
		Values: map[string]any{"endpoint": st.ep.URL, "id": e.id, "type": e.typ, "subject": e.subject,
			"at": e.at.UnixMilli(), "attempts": attempts, "body": e.body}}).Err()
	if err != nil {
		d.log.WarnContext(ctx, "DeadLetterNotWritten", "endpoint", st.label, "id", e.id, "error", err)
	}
	d.m.dead.WithLabelValues(st.label).Inc()
	d.log.WarnContext(ctx, "WebhookDeadLettered", "endpoint", st.label, "id", e.id, "type", e.typ, "attempts", attempts)
}

// backoff is RetryBase doubled per attempt, up to 10 minutes, times a
// random factor in [0.5, 1.5).
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 20)
	if d <= 0 || d > maxBackoff {
		d = maxBackoff
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1000))
	return d/2 + d*time.Duration(n.Int64())/1000
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
