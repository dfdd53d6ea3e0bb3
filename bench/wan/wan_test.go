package wan

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// within fails unless lo ≤ got ≤ hi.
func within(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s took %v, want %v to %v", what, got, lo, hi)
	} else {
		t.Logf("%s took %v (want %v to %v)", what, got, lo, hi)
	}
}

func TestBandwidthPerDirectionAndConnection(t *testing.T) {
	const rate, size = 16 << 20, 6 << 20 // 6 MiB at 16 MiB/s: 375 ms
	// The server reads an upload to EOF, then sends a download of the same size.
	addr := tcpServer(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Write(make([]byte, size))
	})
	p := startProxy(t, addr, Config{BytesPerSec: rate})
	ideal := time.Duration(float64(size-chunkSize) / rate * float64(time.Second))
	dlSlack := time.Duration(float64(chunkSize) / rate * float64(time.Second))
	for _, conns := range []int{1, 2} { // 2: each connection has its own cap
		var wg sync.WaitGroup
		up, down := make([]time.Duration, conns), make([]time.Duration, conns)
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", p.Addr())
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
				var first [1]byte
				if _, err := io.ReadFull(c, first[:]); err != nil { // the server read all of it
					t.Error(err)
					return
				}
				t1 := time.Now()
				n, err := io.Copy(io.Discard, c)
				if err != nil || n != size-1 {
					t.Errorf("download: %d bytes, %v", n+1, err)
				}
				up[i], down[i] = t1.Sub(t0), time.Since(t1)
			}()
		}
		wg.Wait()
		for i := range conns {
			within(t, "upload", up[i], ideal, ideal*15/10+100*time.Millisecond)
			// Timed from the first byte, which came in the first chunk.
			within(t, "download", down[i], ideal-dlSlack, ideal*15/10+100*time.Millisecond)
		}
	}
}

func TestDelayPerTurn(t *testing.T) {
	const rtt = 80 * time.Millisecond
	addr := tcpServer(t, func(c net.Conn) { io.Copy(c, c) }) // echo
	p := startProxy(t, addr, Config{RTT: rtt})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	turn := func() time.Duration {
		t0 := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0)
	}
	// The first turn also pays the connection set-up's round trip.
	within(t, "first turn", turn(), 2*rtt, 2*rtt+150*time.Millisecond)
	// Every turn costs at least the RTT; the best of them (the one the
	// scheduler did not delay on a busy machine) not much more.
	best := time.Hour
	for range 4 {
		d := turn()
		within(t, "turn", d, rtt, rtt+250*time.Millisecond)
		best = min(best, d)
	}
	within(t, "best turn", best, rtt, rtt+30*time.Millisecond)
}

func TestDelayAndBandwidthOverHTTP(t *testing.T) {
	const rtt, rate, size = 40 * time.Millisecond, 32 << 20, 8 << 20 // 250 ms of bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	p := startProxy(t, srv.Listener.Addr().String(), Config{RTT: rtt, BytesPerSec: rate})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	put := func() time.Duration {
		t0 := time.Now()
		res, err := client.Post("http://"+p.Addr()+"/x", "application/octet-stream", bytes.NewReader(make([]byte, size)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(t0)
	}
	bytesTime := time.Duration(float64(size-chunkSize) / rate * float64(time.Second))
	// Set-up RTT, then the body's bytes, then the response's RTT/2 + the request's RTT/2.
	within(t, "first PUT", put(), 2*rtt+bytesTime, 2*rtt+bytesTime*15/10+150*time.Millisecond)
	within(t, "second PUT (kept-alive)", put(), rtt+bytesTime, rtt+bytesTime*15/10+150*time.Millisecond)
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
