// Package wan is a TCP proxy that makes a loopback connection behave like
// one across a wide-area network: bench/compare puts it between the servers
// under test (the gateway, tusd-s3) and the shared sink, so both reach the
// sink only through it and pay the same latency and bandwidth.
//
// The model, per proxied connection and per direction independently:
//
//   - Bandwidth: a token bucket refilled at Config.BytesPerSec with a burst
//     of Config.Burst bytes. A byte leaves the bucket no sooner than the
//     bucket allows; over any span longer than Burst/BytesPerSec a direction
//     carries at most BytesPerSec (plus Burst).
//   - Latency: every byte is delivered RTT/2 after it left the bucket (a
//     delay line, not stop-and-wait). A request/response turn therefore
//     costs one RTT on top of the bytes' serialisation, a long stream pays
//     RTT/2 once for its first byte, and the connection's set-up costs one
//     more RTT (the client's first byte is held until RTT after accept, as
//     the SYN/SYN-ACK exchange would).
//   - Window: at most Config.Window bytes per direction are inside the
//     proxy (read from one side, not yet written to the other); a full
//     window stops reading, so the sender feels back-pressure as from a TCP
//     receive window. The default (twice the bandwidth-delay product, at
//     least 4 MiB) never bounds the rate below BytesPerSec.
//
// Not modelled: loss, TCP slow start and its restart after idle, and TLS.
// A half-close (FIN) is passed on after the bytes before it.
package wan

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the link each proxied connection gets. The zero value proxies
// without delay or cap.
type Config struct {
	// RTT is the round-trip time; each direction delays by RTT/2.
	RTT time.Duration
	// BytesPerSec caps each direction of each connection; 0: no cap.
	BytesPerSec int64
	// Burst is the token bucket's depth in bytes (default 64 KiB).
	Burst int
	// Window bounds the bytes in flight inside the proxy per direction
	// (default max(4 MiB, 2 × BytesPerSec × RTT)).
	Window int
}

// chunkSize is the largest read; a chunk is delivered as one write.
const chunkSize = 64 << 10

func (c Config) withDefaults() Config {
	if c.Burst <= 0 {
		c.Burst = chunkSize
	}
	if c.Window <= 0 {
		c.Window = 4 << 20
		if c.BytesPerSec > 0 {
			if bdp := 2 * float64(c.BytesPerSec) * c.RTT.Seconds(); bdp > float64(c.Window) {
				c.Window = int(bdp)
			}
		}
	}
	return c
}

// String describes the link, e.g. "RTT 30ms, 50 MiB/s per connection".
func (c Config) String() string {
	bw := "uncapped"
	if c.BytesPerSec > 0 {
		bw = FormatRate(c.BytesPerSec) + " per connection"
	}
	return fmt.Sprintf("RTT %s, %s", c.RTT, bw)
}

// Proxy accepts connections and forwards each to Target over its own
// connection, through the link of Config.
type Proxy struct {
	ln     net.Listener
	target string
	cfg    Config

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, up, down atomic.Int64
}

// Stats counts what a proxy carried since it started.
type Stats struct {
	Connections int64 `json:"connections"` // accepted
	BytesUp     int64 `json:"bytesUp"`     // client to target, delivered
	BytesDown   int64 `json:"bytesDown"`   // target to client, delivered
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{Connections: p.accepted.Load(), BytesUp: p.up.Load(), BytesDown: p.down.Load()}
}

// Listen starts a proxy on addr (e.g. "127.0.0.1:0") to target (host:port).
// Serve must be called to accept connections.
func Listen(addr, target string, cfg Config) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wan: listen %s: %w", addr, err)
	}
	return &Proxy{ln: ln, target: target, cfg: cfg.withDefaults(), conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Serve accepts connections until Close; it returns nil after Close.
func (p *Proxy) Serve() error {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("wan: accept: %w", err)
		}
		accepted := time.Now()
		p.accepted.Add(1)
		if !p.track(c) {
			c.Close()
			return nil
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c, accepted)
		}()
	}
}

// Close stops accepting, closes every proxied connection and waits for
// their goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) handle(client net.Conn, accepted time.Time) {
	defer p.untrack(client)
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// The client's first byte waits for the handshake's round trip.
		newLink(p.cfg, accepted.Add(p.cfg.RTT), &p.up).pipe(server, client)
	}()
	go func() {
		defer wg.Done()
		newLink(p.cfg, time.Time{}, &p.down).pipe(client, server)
	}()
	wg.Wait()
}

// link is one direction of one connection.
type link struct {
	cfg       Config
	notBefore time.Time // no byte leaves before this
	tat       time.Time // the token bucket's theoretical arrival time (GCRA)
	count     *atomic.Int64
}

func newLink(cfg Config, notBefore time.Time, count *atomic.Int64) *link {
	return &link{cfg: cfg, notBefore: notBefore, count: count}
}

// release returns when n bytes read at now may leave the token bucket, and
// charges them to it.
func (l *link) release(now time.Time, n int) time.Time {
	t := now
	if t.Before(l.notBefore) {
		t = l.notBefore
	}
	if l.cfg.BytesPerSec <= 0 {
		return t
	}
	per := func(b int) time.Duration {
		return time.Duration(float64(b) / float64(l.cfg.BytesPerSec) * float64(time.Second))
	}
	// GCRA: n bytes conform once the bucket, after taking them, would be
	// at most Burst bytes ahead of time; then tat advances by n's time.
	if earliest := l.tat.Add(per(n) - per(l.cfg.Burst)); t.Before(earliest) {
		t = earliest
	}
	if l.tat.Before(t) {
		l.tat = t
	}
	l.tat = l.tat.Add(per(n))
	return t
}

type chunk struct {
	b   []byte
	due time.Time
	err error // set on the last chunk: the read error (io.EOF for a FIN)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// pipe copies src to dst through the link until src ends or either side
// fails, then half-closes dst (or closes both on an error).
func (l *link) pipe(dst, src net.Conn) {
	ch := make(chan chunk, max(1, l.cfg.Window/chunkSize))
	done := make(chan struct{})
	go func() { // the reader: stamps each chunk with its delivery time
		defer close(ch)
		for {
			bp := bufPool.Get().(*[]byte)
			n, err := src.Read(*bp)
			if n > 0 {
				due := l.release(time.Now(), n).Add(l.cfg.RTT / 2)
				select {
				case ch <- chunk{b: (*bp)[:n], due: due}:
				case <-done:
					bufPool.Put(bp)
					return
				}
			} else {
				bufPool.Put(bp)
			}
			if err != nil {
				// The FIN (or reset) travels behind the bytes before it.
				due := l.release(time.Now(), 0).Add(l.cfg.RTT / 2)
				select {
				case ch <- chunk{due: due, err: err}:
				case <-done:
				}
				return
			}
		}
	}()
	defer close(done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c := range ch {
		if d := time.Until(c.due); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		if c.err != nil {
			if errors.Is(c.err, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
					return
				}
			}
			dst.Close()
			src.Close()
			return
		}
		n, err := dst.Write(c.b)
		l.count.Add(int64(n))
		b := c.b[:cap(c.b)]
		bufPool.Put(&b)
		if err != nil {
			dst.Close()
			src.Close()
			for range ch { // let the reader finish
			}
			return
		}
	}
}

// ParseRate parses a bandwidth in bytes per second: a number with an
// optional unit B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of
// 1024), optionally followed by "/s", e.g. "50MiB", "50MiB/s", "6.25MB".
// "0" and "" mean no cap.
func ParseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	if t == "" {
		return 0, nil
	}
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("wan: bad rate %q", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("wan: bad rate unit %q in %q (want B, KB, MB, GB, KiB, MiB or GiB)", unit, s)
	}
	return int64(v * mult), nil
}

// FormatRate renders bytes per second, e.g. "50 MiB/s".
func FormatRate(bps int64) string {
	switch {
	case bps >= 1<<20:
		return strconv.FormatFloat(float64(bps)/(1<<20), 'f', -1, 64) + " MiB/s"
	case bps >= 1<<10:
		return strconv.FormatFloat(float64(bps)/(1<<10), 'f', -1, 64) + " KiB/s"
	}
	return strconv.FormatInt(bps, 10) + " B/s"
}
