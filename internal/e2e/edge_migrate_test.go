package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// deadPath is a UDP socket that can lose its network: once cut, whatever
// is written is dropped and whatever arrives is never delivered, as when a
// phone leaves a Wi-Fi network.
type deadPath struct {
	net.PacketConn
	cut atomic.Bool
}

func (d *deadPath) WriteTo(p []byte, addr net.Addr) (int, error) {
	if d.cut.Load() {
		return len(p), nil
	}
	return d.PacketConn.WriteTo(p, addr)
}

func (d *deadPath) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := d.PacketConn.ReadFrom(p)
		if err != nil || !d.cut.Load() {
			return n, addr, err
		}
	}
}

func listenUDP(t *testing.T, ip string) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatalf("listen udp %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHTTP3ConnectionMigration moves the client's QUIC connection from
// 127.0.0.1 to 127.0.0.2 in the middle of one long PATCH (path probing,
// then switching), and then kills the old path: the PATCH completes on the
// new path without a resume and the object is correct.
func TestHTTP3ConnectionMigration(t *testing.T) {
	s := newEdgeStack(t, nil)
	oldPath := &deadPath{PacketConn: listenUDP(t, "127.0.0.1")}
	trOld := &quic.Transport{Conn: oldPath}
	trNew := &quic.Transport{Conn: listenUDP(t, "127.0.0.2")}
	t.Cleanup(func() { trNew.Close(); trOld.Close() })

	conns := make(chan *quic.Conn, 4)
	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: certPool(t, s.Cert.CertFile)},
		Dial: func(ctx context.Context, addr string, tlsConf *tls.Config, qconf *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			c, err := trOld.DialEarly(ctx, ua, tlsConf, qconf)
			if err == nil {
				conns <- c
			}
			return c, err
		},
	}
	t.Cleanup(func() { h3.Close() })
	c := &http.Client{Transport: h3}

	const total, before = 32 * MiB, 9 * MiB
	src := makeSource(t, total, 500)
	uploadURL, mediaID := protoCreate(t, c, "h3", s.GW.Endpoint(), total, "migrate.mp4")
	conn := <-conns

	pr, pw := io.Pipe()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := tusReq(context.Background(), c, http.MethodPatch, uploadURL, map[string]string{
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
		}, pr, total)
		done <- result{resp, err}
	}()
	if _, err := pw.Write(src.readRange(t, 0, before)); err != nil {
		t.Fatalf("write body: %v", err)
	}

	// The phone joins another network: probe the new path, switch to it,
	// and lose the old one.
	path, err := conn.AddPath(trNew)
	if err != nil {
		t.Fatalf("AddPath: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := path.Probe(ctx); err != nil {
		t.Fatalf("probe the new path: %v", err)
	}
	if err := path.Switch(); err != nil {
		t.Fatalf("switch to the new path: %v", err)
	}
	oldPath.cut.Store(true)
	t.Logf("switched from %s to %s in the middle of the PATCH", oldPath.LocalAddr(), trNew.Conn.LocalAddr())

	if _, err := pw.Write(src.readRange(t, before, total-before)); err != nil {
		t.Fatalf("write the rest of the body on the new path: %v", err)
	}
	pw.Close()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("PATCH across the migration: %v", r.err)
		}
		checkFinished(t, "h3", r.resp, total, mediaID)
	case <-time.After(2 * time.Minute):
		t.Fatal("PATCH did not finish after the migration")
	}
	s.checkUploaded(t, mediaID, src)
	if strings.Contains(s.GW.log.String(), "ERR_UPLOAD_INTERRUPTED") {
		t.Errorf("the gateway logged ERR_UPLOAD_INTERRUPTED during the migration")
	}
	if n := len(conns); n != 0 {
		t.Errorf("the client dialed %d more QUIC connection(s): the upload did not stay on one", n)
	}
}
