package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// servedSerial opens a new connection over proto ("h2" or "h3") trusting
// every given certificate file, and returns the serial number of the
// certificate the gateway presented.
func servedSerial(t *testing.T, proto, url string, certFiles ...string) int64 {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: certPool(t, certFiles...)}
	var rt http.RoundTripper
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		defer tr.Close()
		rt = tr
	} else {
		tr := &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		rt = tr
	}
	c := &http.Client{Transport: rt, Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("%s GET /healthz: %v", proto, err)
	}
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("%s: no TLS peer certificate", proto)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

// TestCertificateRotation replaces the certificate files while an HTTP/2
// upload is in flight: new connections (HTTP/2 and HTTP/3) get the new
// certificate without a restart, and the upload on the old connection
// continues to a correct object.
func TestCertificateRotation(t *testing.T) {
	s := newEdgeStack(t, nil)
	first := s.Cert
	old := t.TempDir() + "/first.pem"
	copyFile(t, first.CertFile, old)
	if got := servedSerial(t, "h2", s.GW.URL(), first.CertFile); got != first.Serial {
		t.Fatalf("before rotation: serial %d, want %d", got, first.Serial)
	}

	const total, before = 16 * MiB, 5 * MiB
	c := protoClient(t, "h2", certPool(t, first.CertFile))
	src := makeSource(t, total, 400)
	uploadURL, mediaID := protoCreate(t, c, "h2", s.GW.Endpoint(), total, "rotate.mp4")
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

	second := writeTestCert(t, s.CertDir, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := servedSerial(t, "h2", s.GW.URL(), old, second.CertFile)
		if got == second.Serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get serial %d 10s after the rotation", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := servedSerial(t, "h3", s.GW.URL(), second.CertFile); got != second.Serial {
		t.Errorf("HTTP/3 after rotation: serial %d, want %d", got, second.Serial)
	}

	if _, err := pw.Write(src.readRange(t, before, total-before)); err != nil {
		t.Fatalf("write the rest of the body after the rotation: %v", err)
	}
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("PATCH on the old connection: %v", r.err)
	}
	checkFinished(t, "h2", r.resp, total, mediaID)
	if got := r.resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != first.Serial {
		t.Errorf("old connection's certificate serial %d, want %d", got, first.Serial)
	}
	s.checkUploaded(t, mediaID, src)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCertificateReloadOnSIGHUP rotates the files right after a handshake
// looked at them (so the once-a-second check is not due) and sends SIGHUP:
// the next connection already gets the new certificate.
func TestCertificateReloadOnSIGHUP(t *testing.T) {
	s := newEdgeStack(t, nil)
	first := s.Cert
	old := t.TempDir() + "/first.pem"
	copyFile(t, first.CertFile, old)
	time.Sleep(1100 * time.Millisecond) // the next handshake checks the files
	if got := servedSerial(t, "h2", s.GW.URL(), first.CertFile); got != first.Serial {
		t.Fatalf("before rotation: serial %d, want %d", got, first.Serial)
	}
	checked := time.Now()
	second := writeTestCert(t, s.CertDir, 2)
	s.GW.Signal(syscall.SIGHUP)
	for !strings.Contains(s.GW.log.String(), `"CertificateReloaded"`) {
		if time.Since(checked) > 5*time.Second {
			t.Fatal("no CertificateReloaded log line after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := servedSerial(t, "h2", s.GW.URL(), old, second.CertFile)
	if since := time.Since(checked); since >= time.Second {
		t.Skipf("too slow to tell SIGHUP from the periodic check (%v)", since) // not expected on loopback
	}
	if got != second.Serial {
		t.Errorf("after SIGHUP: serial %d, want %d", got, second.Serial)
	}
}
