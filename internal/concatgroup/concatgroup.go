// Package concatgroup numbers the partial uploads of a parallel-upload
// group (tus concatenation with a grouping key) in the order the gateway
// received their creation requests.
//
// A tus client such as tus-js-client creates all partial uploads of one
// file at once, in index order, with identical headers: nothing in a
// partial's request says which piece of the file it is. The gateway gives
// each partial a range of OSS part numbers, and ranges must follow the
// file's order, so the order is taken from arrival. Two steps keep it as
// close to the wire order as possible:
//
//   - [Sequencer.ConnContext], the server's ConnContext, takes a ticket for
//     every new connection in the accept loop, in accept order (goroutines
//     serving connections start in another order: Go runs the newest
//     first); [Sequencer.Middleware], mounted outermost, gives a partial
//     creation (POST with "Upload-Concat: partial") its connection's ticket
//     if it is the connection's first request, else a new one, before
//     anything else (auth, limits, metadata checks) runs;
//   - [Sequencer.Join], called by the store once the group key is known,
//     waits until every earlier ticket of this process has joined its group
//     or ended, then takes the next number of the group in Redis (INCR), so
//     goroutine scheduling between the two steps cannot reorder partials.
//
// Across instances, partials of one group reaching different instances are
// numbered in the order their INCRs reach Redis; the store checks at the
// final upload that the order matches.
package concatgroup

import (
	"context"
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

// acceptWindow is how long a new connection's ticket counts as pending
// before its first request reaches the middleware: a connection that
// sends nothing for that long is not racing a partial creation.
const acceptWindow = 500 * time.Millisecond

// Sequencer issues tickets and group numbers. It is safe for concurrent use.
type Sequencer struct {
	rdb    redis.UniversalClient
	prefix string
	wait   time.Duration
	now    func() time.Time

	mu      sync.Mutex
	next    uint64
	open    map[uint64]time.Time // tickets neither joined nor ended -> until when they count (zero: until released)
	changed chan struct{}        // closed and replaced whenever open shrinks
}

// New returns a Sequencer whose group counters are Redis keys under
// prefix. wait bounds Join's wait for earlier tickets (0: DefaultWait).
func New(rdb redis.UniversalClient, prefix string, wait time.Duration) *Sequencer {
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Sequencer{rdb: rdb, prefix: prefix, wait: wait, now: time.Now, open: map[uint64]time.Time{}, changed: make(chan struct{})}
}

type ticketKey struct{}

type connKey struct{}

// connTicket is the ticket a connection took when it was accepted; its
// first request uses it.
type connTicket struct {
	n    uint64
	used atomic.Bool
}

// ConnContext is http.Server.ConnContext: the server calls it in its
// accept loop, one connection after the other, so tickets taken here
// follow the order in which clients opened their connections, which
// goroutine scheduling cannot change. The first request of a connection
// uses that ticket.
func (s *Sequencer) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connTicket{n: s.issue(s.now().Add(acceptWindow))})
}

// Middleware gives each partial creation request a ticket (its
// connection's, for the first request of a connection; else one taken as
// the request reaches it) and frees the ticket when the request ends.
func (s *Sequencer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var t uint64
		if c, ok := r.Context().Value(connKey{}).(*connTicket); ok && c.used.CompareAndSwap(false, true) {
			t = c.n
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(strings.TrimSpace(r.Header.Get("Upload-Concat")), "partial") {
			if t != 0 {
				s.done(t)
			}
			next.ServeHTTP(w, r)
			return
		}
		if t == 0 {
			t = s.issue(time.Time{})
		} else {
			s.hold(t)
		}
		defer s.done(t)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ticketKey{}, t)))
	})
}

func (s *Sequencer) issue(until time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.open[s.next] = until
	if len(s.open) > 1024 {
		now := s.now()
		for o, u := range s.open {
			if !u.IsZero() && now.After(u) {
				delete(s.open, o)
			}
		}
	}
	return s.next
}

// hold makes an open ticket count until it is released.
func (s *Sequencer) hold(t uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[t]; ok {
		s.open[t] = time.Time{}
	}
}

func (s *Sequencer) done(t uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[t]; !ok {
		return
	}
	delete(s.open, t)
	close(s.changed)
	s.changed = make(chan struct{})
}

// earlier reports whether a ticket before t still counts, and a channel
// closed at the next change (or nil with the time the first of them
// stops counting).
func (s *Sequencer) earlier(t uint64) (bool, <-chan struct{}, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	busy, soonest := false, time.Time{}
	for o, u := range s.open {
		if o >= t {
			continue
		}
		if !u.IsZero() && now.After(u) {
			delete(s.open, o) // a connection that sent nothing in time
			continue
		}
		busy = true
		if !u.IsZero() && (soonest.IsZero() || u.Before(soonest)) {
			soonest = u
		}
	}
	return busy, s.changed, soonest
}

// Join returns the 1-based number of a new member of the group key: the
// order in which members joined. A request with a ticket first waits (at
// most the configured wait) until every earlier ticket has joined, ended
// or, for a connection's ticket, passed its window. The counter lives
// ttl after the last join.
func (s *Sequencer) Join(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if t, ok := ctx.Value(ticketKey{}).(uint64); ok {
		defer s.done(t)
		deadline := time.NewTimer(s.wait)
		defer deadline.Stop()
	wait:
		for {
			busy, ch, soonest := s.earlier(t)
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
