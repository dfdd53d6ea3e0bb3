package wan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// startProxy runs a proxy to target and closes it when the test ends.
func startProxy(t *testing.T, target string, cfg Config) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Serve() }()
	t.Cleanup(func() {
		p.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p
}

// tcpServer accepts connections and runs handle on each.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// bounds checks one attempt's timings. Below its lower bound a timing
// fails the test at once: the proxy let bytes through too early. Above its
// upper bound it only fails the attempt, since a busy machine can delay any
// goroutine; attempts retries.
type bounds struct {
	t    *testing.T
	slow []string
}

func (b *bounds) within(what string, got, lo, hi time.Duration) {
	b.t.Helper()
	switch {
	case got < lo:
		b.t.Errorf("%s took %v, want at least %v", what, got, lo)
	case got > hi:
		b.slow = append(b.slow, fmt.Sprintf("%s took %v, want at most %v", what, got, hi))
	default:
		b.t.Logf("%s took %v (want %v to %v)", what, got, lo, hi)
	}
}

// attempts runs f up to n times, until no timing is above its upper bound.
func attempts(t *testing.T, n int, f func(b *bounds)) {
	t.Helper()
	for i := 1; ; i++ {
		b := &bounds{t: t}
		f(b)
		switch {
		case len(b.slow) == 0 || t.Failed():
			return
		case i == n:
			t.Errorf("too slow in all %d attempts; the last: %s", n, strings.Join(b.slow, "; "))
			return
		}
		t.Logf("attempt %d too slow (%s); again", i, strings.Join(b.slow, "; "))
	}
}

func TestBandwidthPerDirectionAndConnection(t *testing.T) {
	const rate, size = 16 << 20, 6 << 20 // 6 MiB at 16 MiB/s: 375 ms
	// The server reads an upload to EOF, then sends a download of the same
	// size that starts with the time it started sending.
	addr := tcpServer(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
		b := make([]byte, size)
		binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano()))
		c.Write(b)
	})
	p := startProxy(t, addr, Config{BytesPerSec: rate})
	ideal := time.Duration(float64(size-chunkSize) / rate * float64(time.Second))
	for _, conns := range []int{1, 2} { // 2: each connection has its own cap
		attempts(t, 3, func(b *bounds) { transfer(t, b, p.Addr(), conns, size, ideal) })
	}
}

// transfer uploads and then downloads size bytes on each of conns
// connections at once and checks the times against ideal.
func transfer(t *testing.T, b *bounds, addr string, conns, size int, ideal time.Duration) {
	var wg sync.WaitGroup
	up, down := make([]time.Duration, conns), make([]time.Duration, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			t0 := time.Now()
			if _, err := c.Write(make([]byte, size)); err != nil {
				t.Error(err)
				return
			}
			c.(*net.TCPConn).CloseWrite()
			var first [8]byte
			if _, err := io.ReadFull(c, first[:]); err != nil { // the server read all of it
				t.Error(err)
				return
			}
			t1 := time.Now()
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(first[:])))
			n, err := io.Copy(io.Discard, c)
			if err != nil || n != int64(size)-8 {
				t.Errorf("download: %d bytes, %v", n+8, err)
			}
			up[i], down[i] = t1.Sub(t0), time.Since(sent)
		}()
	}
	wg.Wait()
	for i := range conns {
		b.within("upload", up[i], ideal, ideal*14/10+50*time.Millisecond)
		// Timed from the server\'s first write.
		b.within("download", down[i], ideal, ideal*14/10+50*time.Millisecond)
	}
}

func TestDelayPerTurn(t *testing.T) {
	const rtt = 80 * time.Millisecond
	addr := tcpServer(t, func(c net.Conn) { io.Copy(c, c) }) // echo
	p := startProxy(t, addr, Config{RTT: rtt})
	attempts(t, 3, func(b *bounds) {
		// The first turn is timed from before the dial: it also pays the
		// connection set-up's round trip, counted from the accept.
		dialed := time.Now()
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		turn := func(t0 time.Time) time.Duration {
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			var buf [4]byte
			if _, err := io.ReadFull(c, buf[:]); err != nil {
				t.Fatal(err)
			}
			return time.Since(t0)
		}
		b.within("first turn", turn(dialed), 2*rtt, 2*rtt+40*time.Millisecond)
		for range 3 {
			b.within("turn", turn(time.Now()), rtt, rtt+30*time.Millisecond)
		}
	})
}

func TestDelayAndBandwidthOverHTTP(t *testing.T) {
	const rtt, rate, size = 40 * time.Millisecond, 32 << 20, 8 << 20 // 250 ms of bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	p := startProxy(t, srv.Listener.Addr().String(), Config{RTT: rtt, BytesPerSec: rate})
	attempts(t, 3, func(b *bounds) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		puts(t, b, client, p.Addr(), rtt, rate, size)
	})
}

// puts times two POSTs of size bytes on one kept-alive connection.
func puts(t *testing.T, b *bounds, client *http.Client, addr string, rtt time.Duration, rate, size int) {
	put := func() time.Duration {
		t0 := time.Now()
		res, err := client.Post("http://"+addr+"/x", "application/octet-stream", bytes.NewReader(make([]byte, size)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(t0)
	}
	bytesTime := time.Duration(float64(size-chunkSize) / float64(rate) * float64(time.Second))
	// Set-up RTT, then the body's bytes, then the response's RTT/2 + the request's RTT/2.
	b.within("first PUT", put(), 2*rtt+bytesTime, 2*rtt+bytesTime*14/10+60*time.Millisecond)
	b.within("second PUT (kept-alive)", put(), rtt+bytesTime, rtt+bytesTime*14/10+60*time.Millisecond)
}

func TestHalfCloseAndClose(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c) // to the client's FIN
		c.Write(append([]byte("got "), b...))
	})
	p := startProxy(t, addr, Config{RTT: 10 * time.Millisecond, BytesPerSec: 1 << 20})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "got hello" {
		t.Fatalf("read %q, %v; want %q then EOF", b, err, "got hello")
	}
	if st := p.Stats(); st != (Stats{Connections: 1, BytesUp: 5, BytesDown: 9}) {
		t.Errorf("Stats() = %+v, want 1 connection, 5 bytes up, 9 down", st)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "", want: 0}, {in: "0", want: 0}, {in: "50MiB", want: 50 << 20}, {in: "50MiB/s", want: 50 << 20},
		{in: "6.25MB", want: 6_250_000}, {in: "1 GiB", want: 1 << 30}, {in: "512KiB", want: 512 << 10},
		{in: "100", want: 100}, {in: "50Mbit", bad: true}, {in: "fast", bad: true}, {in: "-1MiB", bad: true},
	} {
		got, err := ParseRate(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRate(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if s := FormatRate(50 << 20); s != "50 MiB/s" {
		t.Errorf("FormatRate = %q", s)
	}
}
