package limits

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"
)

// clockedBody returns one byte per Read; each Read takes perRead on the
// fake clock, and the server pauses for pause between Reads.
type clockedBody struct {
	clock   *fakeClock
	perRead time.Duration
	left    int
}

func (b *clockedBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	b.clock.add(b.perRead)
	b.left--
	p[0] = 'x'
	return 1, nil
}

func (b *clockedBody) Close() error { return nil }

func TestMeterRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perRead  time.Duration // client pace
		pause    time.Duration // server time between reads (not the client's fault)
		minSpeed int64
		bytes    int
		cutAfter int // bytes read when cut; 0 = never cut
	}{
		{name: "1 byte/s against 10 B/s over 10s", perRead: time.Second, minSpeed: 10, bytes: 100, cutAfter: 10},
		{name: "10 bytes/s passes", perRead: 100 * time.Millisecond, minSpeed: 10, bytes: 500},
		{name: "server pauses are not counted", perRead: 50 * time.Millisecond, pause: 10 * time.Second, minSpeed: 10, bytes: 50},
		{name: "short slow body ends before the window", perRead: time.Second, minSpeed: 10, bytes: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			m := newMeter(&clockedBody{clock: clock, perRead: tc.perRead, left: tc.bytes}, tc.minSpeed, 10*time.Second, 0, clock.now)
			var cutReason string
			m.onCut = func(r string) { cutReason = r }
			buf := make([]byte, 8)
			read := 0
			var err error
			for {
				var n int
				n, err = m.Read(buf)
				read += n
				if err != nil {
					break
				}
				clock.add(tc.pause)
			}
			if tc.cutAfter == 0 {
				if err != io.EOF || cutReason != "" || read != tc.bytes {
					t.Fatalf("read %d, err %v, cut %q; want all %d bytes", read, err, cutReason, tc.bytes)
				}
				return
			}
			var he handler.Error
			if !errors.As(err, &he) || he.HTTPResponse.StatusCode != http.StatusRequestTimeout || cutReason != cutSlow {
				t.Fatalf("err %v, cut %q; want a 408 slow-client cut", err, cutReason)
			}
			if read != tc.cutAfter {
				t.Fatalf("cut after %d bytes, want %d", read, tc.cutAfter)
			}
			if n, err2 := m.Read(buf); n != 0 || !errors.Is(err2, he) {
				t.Fatalf("read after cut: %d, %v", n, err2)
			}
		})
	}
}

// tusServer is tusd on a file store behind the limiter's Request
// middleware, as the gateway mounts it.
func tusServer(t *testing.T, cfg Config) (*httptest.Server, *Limiter) {
	t.Helper()
	cfg.Logger = quietLogger()
	l, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	composer := handler.NewStoreComposer()
	filestore.New(t.TempDir()).UseIn(composer)
	memorylocker.New().UseIn(composer)
	tus, err := handler.NewHandler(handler.Config{BasePath: "/files/", StoreComposer: composer,
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Request(http.StripPrefix("/files/", tus)))
	t.Cleanup(srv.Close)
	return srv, l
}

// slowPatch creates an upload of size bytes, then PATCHes it over a raw
// connection sending one byte every interval, and returns the status, the
// time until the answer, and the offset a HEAD reports afterwards.
func slowPatch(t *testing.T, srv *httptest.Server, size int, interval time.Duration, stallAfter int) (int, time.Duration, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/files/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(size))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", res, err)
	}
	res.Body.Close()
	path := strings.TrimPrefix(res.Header.Get("Location"), srv.URL)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", path, size)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		for i := 0; i < size; i++ {
			if stallAfter > 0 && i >= stallAfter {
				break
			}
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
			if _, err := conn.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	close(done)
	if err != nil {
		t.Fatalf("read PATCH response: %v", err)
	}
	elapsed := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("PATCH answered %d after %v: %s", resp.StatusCode, elapsed.Round(10*time.Millisecond), strings.TrimSpace(string(body)))
	if resp.StatusCode == http.StatusRequestTimeout && !resp.Close {
		t.Error("408 without closing the connection")
	}

	head, _ := http.NewRequest(http.MethodHead, srv.URL+path, nil)
	head.Header.Set("Tus-Resumable", "1.0.0")
	hres, err := http.DefaultClient.Do(head)
	if err != nil {
		t.Fatal(err)
	}
	hres.Body.Close()
	off, _ := strconv.Atoi(hres.Header.Get("Upload-Offset"))
	return resp.StatusCode, elapsed, off
}

// A client sending 1 byte per second, against a minimum of 10 bytes/s
// over 3 s, is cut with 408 after about 3 s; the bytes it sent are kept.
func TestSlowClientCutOff(t *testing.T) {
	srv, l := tusServer(t, Config{MinSpeed: 10, MinSpeedWindow: 3 * time.Second})
	status, elapsed, off := slowPatch(t, srv, 100, time.Second, 0)
	if status != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", status)
	}
	if elapsed < 3*time.Second || elapsed > 6*time.Second {
		t.Fatalf("cut after %v, want about 3s", elapsed)
	}
	if off < 2 || off > 5 {
		t.Fatalf("offset %d after the cut, want the ~3 bytes sent", off)
	}
	if got := counterValue(l.metrics.rejections.WithLabelValues(cutSlow)); got != 1 {
		t.Fatalf("slow_client rejections = %v", got)
	}
}

// A client that stops sending is cut after the idle timeout, well before
// tusd's 60s network timeout.
func TestIdleClientCutOff(t *testing.T) {
	srv, _ := tusServer(t, Config{BodyIdleTimeout: time.Second})
	status, elapsed, off := slowPatch(t, srv, 100, 10*time.Millisecond, 5)
	if status != http.StatusRequestTimeout || elapsed > 4*time.Second {
		t.Fatalf("status %d after %v, want 408 after about 1s", status, elapsed)
	}
	if off != 5 {
		t.Fatalf("offset %d, want 5", off)
	}
}

// A client at full speed is never cut.
func TestFastClientPasses(t *testing.T) {
	srv, _ := tusServer(t, Config{MinSpeed: 1 << 10, MinSpeedWindow: 200 * time.Millisecond, BodyIdleTimeout: time.Second})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/files/", strings.NewReader(strings.Repeat("x", 1<<20)))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(1<<20))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || res.Header.Get("Upload-Offset") != strconv.Itoa(1<<20) {
		t.Fatalf("status %d, offset %s", res.StatusCode, res.Header.Get("Upload-Offset"))
	}
}
