// Package concatgroup numbers the partial uploads of a parallel-upload
// group (tus concatenation with a grouping key) in the order the gateway
// received their creation requests.
//
// A tus client such as tus-js-client creates all partial uploads of one
// file at once, in index order, with identical headers: nothing in a
// partial's request says which piece of the file it is. The gateway gives
// each partial a range of OSS part numbers, and ranges must follow the
// file's order, so the order is taken from arrival, as close to the wire
// as the process can see it. Goroutines that serve connections run in
// another order than their bytes arrived (Go runs the newest goroutine
// first), so:
//
//   - [Sequencer.Listener] wraps the TCP listener so each read notes the
//     kernel's receive time (Linux: SO_TIMESTAMPNS); a request's arrival is
//     that time for its headers (elsewhere: when it reaches the middleware);
//   - [Sequencer.ConnContext], the server's ConnContext, opens a ticket for
//     every new connection in the accept loop, keyed by the accept time:
//     clients open connections in the order of their requests (but write
//     on them in the order the handshakes complete), and a connection whose
//     first request has not been read yet holds later ones back;
//   - [Sequencer.Middleware], mounted outermost, gives a partial creation
//     (POST with "Upload-Concat: partial") its connection's ticket if it
//     is the connection's first request, else a ticket keyed by its
//     arrival, before anything else (auth, limits, metadata checks) runs;
//   - [Sequencer.Join], called by the store once the group key is known,
//     waits a short grace after the arrival (for requests that arrived
//     earlier on open connections to reach the middleware), then until
//     every ticket with an earlier key has joined or ended, then takes the
//     next number of the group in Redis (INCR).
//
// Across instances, partials of one group reaching different instances are
// numbered in the order their INCRs reach Redis; the store checks at the
// final upload that the order matches.
package concatgroup

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultWait bounds how long Join waits for earlier tickets.
const DefaultWait = 2 * time.Second

// acceptWindow is how long a new connection's ticket counts before its
// first request reaches the middleware: a connection that sends nothing
// for that long is not racing a partial creation.
const acceptWindow = 500 * time.Millisecond

// grace is how long after a request's arrival Join waits for requests
// that arrived earlier on open connections to reach the middleware.
const grace = 10 * time.Millisecond

// Sequencer issues tickets and group numbers. It is safe for concurrent use.
type Sequencer struct {
	rdb    redis.UniversalClient
	prefix string
	wait   time.Duration
	now    func() time.Time

	mu      sync.Mutex
	next    uint64
	open    map[uint64]*ticket // tickets neither joined nor ended
	changed chan struct{}      // closed and replaced whenever open changes
}

// ticket orders a request (or a new connection's coming first request) by
// key, its arrival in unix ns; a connection's ticket counts until until.
type ticket struct {
	key   int64
	until time.Time // zero: until released
}

// New returns a Sequencer whose group counters are Redis keys under
// prefix. wait bounds Join's wait for earlier tickets (0: DefaultWait).
func New(rdb redis.UniversalClient, prefix string, wait time.Duration) *Sequencer {
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Sequencer{rdb: rdb, prefix: prefix, wait: wait, now: time.Now, open: map[uint64]*ticket{}, changed: make(chan struct{})}
}

type ticketKey struct{}

type connKey struct{}

// connTicket is the ticket a connection took when it was accepted; its
// first request takes it over.
type connTicket struct {
	id   uint64
	conn arrivalConn // nil: no kernel receive times
	used atomic.Bool
}

// arrivalConn is a connection that knows when its last bytes arrived.
type arrivalConn interface{ arrival() (int64, bool) }

// ConnContext is http.Server.ConnContext: the server calls it in its
// accept loop, so a new connection holds later requests back until its
// first request has been seen (or acceptWindow passed).
func (s *Sequencer) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	a, _ := c.(arrivalConn)
	now := s.now()
	return context.WithValue(ctx, connKey{}, &connTicket{id: s.issue(now.UnixNano(), now.Add(acceptWindow)), conn: a})
}

// Middleware gives each partial creation request a ticket keyed by its
// arrival and frees it when the request ends; the first request of a
// connection frees (or takes over) the connection's ticket.
func (s *Sequencer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var conn uint64
		arrived := s.now().UnixNano()
		if c, ok := r.Context().Value(connKey{}).(*connTicket); ok {
			if c.used.CompareAndSwap(false, true) {
				conn = c.id
			}
			if c.conn != nil {
				if ns, ok := c.conn.arrival(); ok && ns < arrived {
					arrived = ns
				}
			}
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(strings.TrimSpace(r.Header.Get("Upload-Concat")), "partial") {
			if conn != 0 {
				s.done(conn)
			}
			next.ServeHTTP(w, r)
			return
		}
		// A connection's first request keeps the accept time as its key:
		// clients open connections in the order of their requests, but
		// write on them in the order the connections complete. Later
		// requests on a connection are keyed by their arrival.
		t := conn
		if t == 0 {
			t = s.issue(arrived, time.Time{})
		} else {
			s.hold(t)
		}
		defer s.done(t)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ticketKey{}, t)))
	})
}

func (s *Sequencer) issue(key int64, until time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.open[s.next] = &ticket{key: key, until: until}
	if len(s.open) > 1024 {
		now := s.now()
		for id, t := range s.open {
			if !t.until.IsZero() && now.After(t.until) {
				delete(s.open, id)
			}
		}
	}
	return s.next
}

// hold makes a connection's open ticket its request's, counting until
// released.
func (s *Sequencer) hold(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.open[id]; ok {
		t.until = time.Time{}
	}
}

func (s *Sequencer) done(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[id]; !ok {
		return
	}
	delete(s.open, id)
	close(s.changed)
	s.changed = make(chan struct{})
}

// earlier reports whether a ticket other than id with a key before id's
// still counts, a channel closed at the next change, and when the first
// connection ticket among them stops counting (zero if none).
func (s *Sequencer) earlier(id uint64) (bool, <-chan struct{}, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.open[id]
	if !ok {
		return false, s.changed, time.Time{}
	}
	now := s.now()
	busy, soonest := false, time.Time{}
	for o, t := range s.open {
		if o == id || t.key > me.key || (t.key == me.key && o > id) {
			continue
		}
		if !t.until.IsZero() && now.After(t.until) {
			delete(s.open, o) // a connection that sent nothing in time
			continue
		}
		busy = true
		if !t.until.IsZero() && (soonest.IsZero() || t.until.Before(soonest)) {
			soonest = t.until
		}
	}
	return busy, s.changed, soonest
}

// keyOf returns the key of an open ticket.
func (s *Sequencer) keyOf(id uint64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.open[id]
	if !ok {
		return 0, false
	}
	return t.key, true
}

// Join returns the 1-based number of a new member of the group key: the
// order in which members joined. A request with a ticket first waits (at
// most the configured wait in all) for the grace after its arrival, then
// until every ticket with an earlier key has joined, ended or, for a
// connection's ticket, passed its window. The counter lives ttl after the
// last join.
func (s *Sequencer) Join(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if id, ok := ctx.Value(ticketKey{}).(uint64); ok {
		defer s.done(id)
		deadline := time.NewTimer(s.wait)
		defer deadline.Stop()
		if k, ok := s.keyOf(id); ok {
			if d := time.Unix(0, k).Add(grace).Sub(s.now()); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return 0, context.Cause(ctx)
				}
			}
		}
	wait:
		for {
			busy, ch, soonest := s.earlier(id)
			if !busy {
				break
			}
			var expire <-chan time.Time
			if !soonest.IsZero() {
				tm := time.NewTimer(soonest.Sub(s.now()) + time.Millisecond)
				expire = tm.C
				defer tm.Stop()
			}
			select {
			case <-ch:
			case <-expire:
			case <-deadline.C:
				break wait
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
	}
	k := s.prefix + ":{" + key + "}:seq"
	var incr *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.PExpire(ctx, k, ttl)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("concatgroup: join %s: %w", key, err)
	}
	return incr.Val(), nil
}
