package vodtest

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // the VOD callback signature is MD5 by definition
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Delivery is one recorded callback attempt (or one dropped event).
type Delivery struct {
	Time      time.Time // Clock when the attempt started
	URL       string
	EventType string
	MediaID   string // VideoId / ImageId / AttachedMediaId (JobId for a failed URL job)
	Copy      int    // 1, or 2 for the second copy of a duplicated event
	Attempt   int    // 1-based; 0 for a dropped event
	Status    int    // the receiver's HTTP status; 0 after a network error or for a dropped event
	Error     string // network error, if any
	Delivered bool   // the receiver answered 200 (VOD counts only 200 as success)
	Dropped   bool   // the drop fault swallowed the event: nothing was sent
	Final     bool   // no further attempt follows: delivered, dropped, or attempts exhausted
	Timestamp string // X-VOD-TIMESTAMP sent; "" when unsigned (no CallbackAuthKey)
	Body      string // the JSON body
}

// CallbackFaults shape callback deliveries. The zero value means none. Faults are read when an
// event is generated, so a change affects later events only.
type CallbackFaults struct {
	Delay        time.Duration // wait this long (real time) before the first attempt
	Duplicate    bool          // send every event twice (two independent deliveries)
	Drop         bool          // never send; the event is recorded as Dropped
	BadSignature bool          // X-VOD-SIGNATURE is computed with a wrong key
	StaleBy      time.Duration // X-VOD-TIMESTAMP is this far behind Clock (e.g. DefaultCallbackStale)
}

// notifier delivers events. Its fields are guarded by mu, except jobPolling (guarded by Server.mu).
type notifier struct {
	log      *slog.Logger
	clock    func() time.Time
	client   *http.Client
	key      string
	attempts int
	interval time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	sem      chan struct{}

	jobPolling bool

	mu         sync.Mutex
	closed     bool
	faults     CallbackFaults
	deliveries []Delivery
	finals     int
	events     int           // events generated, delivered or not (tests: "nothing to deliver")
	changed    chan struct{} // closed and replaced whenever a delivery is recorded
}

func newNotifier(cfg Config, log *slog.Logger) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{
		log: log, clock: cfg.Clock, client: cfg.HTTPClient, key: cfg.CallbackAuthKey,
		attempts: cfg.CallbackAttempts, interval: cfg.CallbackRetryInterval,
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, maxCallbacksInFlight),
		changed: make(chan struct{}),
	}
}

// goTracked runs fn in a goroutine that close waits for; false once closed.
func (n *notifier) goTracked(fn func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

func (n *notifier) countEvent() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events++
}

// emit starts delivering ev in the background, applying the current faults. It never blocks on
// the network, so it may be called with Server.mu held.
func (n *notifier) emit(ev event) {
	n.mu.Lock()
	f := n.faults
	n.mu.Unlock()
	if f.Drop {
		n.record(Delivery{Time: n.clock(), URL: ev.URL, EventType: ev.Type, MediaID: ev.MediaID, Copy: 1,
			Dropped: true, Final: true, Body: string(ev.Body)})
		n.log.Debug("CallbackDropped", "event", ev.Type, "id", ev.MediaID)
		return
	}
	copies := 1
	if f.Duplicate {
		copies = 2
	}
	for c := 1; c <= copies; c++ {
		n.goTracked(func() { n.deliver(ev, c, f) })
	}
}

// deliver sends one copy of ev, retrying with a doubling interval until the receiver answers
// 200 or the attempts are used up.
func (n *notifier) deliver(ev event, copyNo int, f CallbackFaults) {
	if f.Delay > 0 && !sleepCtx(n.ctx, f.Delay) {
		return
	}
	wait := n.interval
	for attempt := 1; ; attempt++ {
		select {
		case n.sem <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		d := n.attempt(ev, copyNo, attempt, f)
		<-n.sem
		d.Final = d.Delivered || attempt >= n.attempts
		n.record(d)
		n.log.Debug("CallbackAttempt", "event", ev.Type, "id", ev.MediaID, "url", ev.URL, "attempt", attempt,
			"status", d.Status, "error", d.Error)
		if d.Final || !sleepCtx(n.ctx, wait) {
			return
		}
		wait *= 2
	}
}

func (n *notifier) attempt(ev event, copyNo, attempt int, f CallbackFaults) Delivery {
	now := n.clock()
	d := Delivery{Time: now, URL: ev.URL, EventType: ev.Type, MediaID: ev.MediaID, Copy: copyNo, Attempt: attempt, Body: string(ev.Body)}
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, ev.URL, bytes.NewReader(ev.Body))
	if err != nil {
		d.Error = fmt.Errorf("vodtest: callback request: %w", err).Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	if n.key != "" {
		ts := strconv.FormatInt(now.Add(-f.StaleBy).Unix(), 10)
		key := n.key
		if f.BadSignature {
			key += "-wrong"
		}
		// Set the keys as VOD spells them (Header.Set would canonicalize to X-Vod-Timestamp).
		req.Header[headerVODTimestamp] = []string{ts}
		req.Header[headerVODSignature] = []string{CallbackSignature(ev.URL, ts, key)}
		d.Timestamp = ts
	}
	resp, err := n.client.Do(req)
	if err != nil {
		d.Error = fmt.Errorf("vodtest: callback POST: %w", err).Error()
		return d
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCallbackBodyBytes))
	_ = resp.Body.Close()
	d.Status = resp.StatusCode
	d.Delivered = resp.StatusCode == http.StatusOK
	return d
}

// CallbackSignature is VOD's HTTP callback signature: md5hex(url + "|" + timestamp + "|" + key).
// Exported for receivers under test; the simulator's own tests recompute it independently.
func CallbackSignature(callbackURL, timestamp, key string) string {
	sum := md5.Sum([]byte(callbackURL + "|" + timestamp + "|" + key)) //nolint:gosec // by definition
	return hex.EncodeToString(sum[:])
}

func (n *notifier) record(d Delivery) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deliveries = append(n.deliveries, d)
	if d.Final {
		n.finals++
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Deliveries returns every callback attempt so far (and every dropped event), oldest first.
func (s *Server) Deliveries() []Delivery {
	s.cb.mu.Lock()
	defer s.cb.mu.Unlock()
	return append([]Delivery(nil), s.cb.deliveries...)
}

// WaitDeliveries blocks until n deliveries have finished — each copy of each event counts once,
// when the receiver answered 200, the attempts ran out, or the drop fault swallowed it — and
// returns Deliveries. It fails when ctx ends first.
func (s *Server) WaitDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	for {
		s.cb.mu.Lock()
		finals, changed := s.cb.finals, s.cb.changed
		s.cb.mu.Unlock()
		if finals >= n {
			return s.Deliveries(), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Deliveries(), fmt.Errorf("vodtest: wait for %d callback deliveries (%d finished): %w", n, finals, ctx.Err())
		}
	}
}

// SetCallbackFaults replaces the callback fault knobs; the zero value clears them.
func (s *Server) SetCallbackFaults(f CallbackFaults) {
	s.cb.mu.Lock()
	defer s.cb.mu.Unlock()
	s.cb.faults = f
}

// CallbackFaults returns the current callback fault knobs.
func (s *Server) CallbackFaults() CallbackFaults {
	s.cb.mu.Lock()
	defer s.cb.mu.Unlock()
	return s.cb.faults
}

// callbackFaultsJSON is the /_sim/callback-faults wire form of CallbackFaults.
type callbackFaultsJSON struct {
	DelayMS      int64 `json:"delayMs"`
	Duplicate    bool  `json:"duplicate"`
	Drop         bool  `json:"drop"`
	BadSignature bool  `json:"badSignature"`
	Stale        bool  `json:"stale"`        // true without staleSeconds: DefaultCallbackStale
	StaleSeconds int64 `json:"staleSeconds"` // X-VOD-TIMESTAMP this many seconds old
}

// serveCallbackSim serves the callback routes of the inspection API; false if route is not one:
//
//	GET  /_sim/callbacks         every Delivery
//	GET  /_sim/callback-faults   the current knobs
//	POST /_sim/callback-faults   {"delayMs","duplicate","drop","badSignature","stale","staleSeconds"}
//	                             → SetCallbackFaults (replaces all knobs; {} clears them)
func (s *Server) serveCallbackSim(w http.ResponseWriter, r *http.Request, route string) bool {
	switch {
	case r.Method == http.MethodGet && route == "callbacks":
		simJSON(w, http.StatusOK, s.Deliveries())
	case r.Method == http.MethodGet && route == "callback-faults":
		f := s.CallbackFaults()
		simJSON(w, http.StatusOK, callbackFaultsJSON{
			DelayMS: f.Delay.Milliseconds(), Duplicate: f.Duplicate, Drop: f.Drop, BadSignature: f.BadSignature,
			Stale: f.StaleBy > 0, StaleSeconds: int64(f.StaleBy / time.Second),
		})
	case r.Method == http.MethodPost && route == "callback-faults":
		var in callbackFaultsJSON
		if !decodeSim(w, r, &in) {
			return true
		}
		if in.DelayMS < 0 || in.StaleSeconds < 0 {
			simJSON(w, http.StatusBadRequest, map[string]string{"error": "delayMs and staleSeconds must not be negative"})
			return true
		}
		f := CallbackFaults{Delay: time.Duration(in.DelayMS) * time.Millisecond, Duplicate: in.Duplicate, Drop: in.Drop,
			BadSignature: in.BadSignature, StaleBy: time.Duration(in.StaleSeconds) * time.Second}
		if in.Stale && f.StaleBy == 0 {
			f.StaleBy = DefaultCallbackStale
		}
		s.SetCallbackFaults(f)
		simJSON(w, http.StatusOK, map[string]string{})
	default:
		return false
	}
	return true
}
