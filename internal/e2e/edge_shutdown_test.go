package e2e

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// startStalledPatch sends a PATCH of total bytes over c, writes the first
// sent bytes of src and then stalls; it returns the channel that gets the
// PATCH's response (or error) and the body writer.
func startStalledPatch(t *testing.T, c *http.Client, uploadURL string, src source, total, sent int64) (<-chan *http.Response, <-chan error, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	resps, errs := make(chan *http.Response, 1), make(chan error, 1)
	go func() {
		resp, err := tusReq(context.Background(), c, http.MethodPatch, uploadURL, map[string]string{
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
		}, pr, total)
		if err != nil {
			errs <- err
			return
		}
		resps <- resp
	}()
	if _, err := pw.Write(src.readRange(t, 0, sent)); err != nil {
		t.Fatalf("write body: %v", err)
	}
	return resps, errs, pw
}

// TestEdgeSlowClientCut checks that the slow-client cut-off applies to
// HTTP/2 and HTTP/3 streams as to HTTP/1.1: a body that stops sending is
// answered 408 after limit-body-idle-timeout and every byte read is kept.
func TestEdgeSlowClientCut(t *testing.T) {
	s := newEdgeStack(t, map[string]string{"VODGATE_LIMIT_BODY_IDLE_TIMEOUT": "1s"})
	roots := certPool(t, s.Cert.CertFile)
	for i, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			const total, sent = 12 * MiB, 3*MiB + 99
			c := protoClient(t, proto, roots)
			src := makeSource(t, total, uint64(600+i))
			uploadURL, mediaID := protoCreate(t, c, proto, s.GW.Endpoint(), total, "slow-"+proto+".mp4")
			resps, errs, _ := startStalledPatch(t, c, uploadURL, src, total, sent)
			select {
			case resp := <-resps:
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Errorf("stalled %s PATCH: %s, want 408", proto, resp.Status)
				}
			case err := <-errs:
				t.Fatalf("stalled %s PATCH: %v, want a 408 response", proto, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("stalled %s PATCH not cut after 30s", proto)
			}
			if off := headOver(t, c, uploadURL); off != sent {
				t.Errorf("after the cut: Upload-Offset %d, want %d", off, int64(sent))
			}
			resp := protoPatch(t, c, uploadURL, src, sent)
			checkFinished(t, proto, resp, total, mediaID)
			s.checkUploaded(t, mediaID, src)
		})
	}
}

// TestEdgeGracefulShutdown sends SIGTERM while an HTTP/2 and an HTTP/3
// PATCH are stalled mid-body: the gateway closes both bodies, saves what
// it read and exits within the shutdown timeout; after a restart both
// uploads resume from every byte sent and finish.
func TestEdgeGracefulShutdown(t *testing.T) {
	s := newEdgeStack(t, map[string]string{"VODGATE_SHUTDOWN_TIMEOUT": "15s"})
	roots := certPool(t, s.Cert.CertFile)
	type upload struct {
		proto, url, mediaID string
		src                 source
		errs                <-chan error
		resps               <-chan *http.Response
	}
	const total, sent = 10 * MiB, 2*MiB + 12345
	var ups []upload
	for i, proto := range []string{"h2", "h3"} {
		c := protoClient(t, proto, roots)
		src := makeSource(t, total, uint64(700+i))
		u, m := protoCreate(t, c, proto, s.GW.Endpoint(), total, "stop-"+proto+".mp4")
		resps, errs, _ := startStalledPatch(t, c, u, src, total, sent)
		ups = append(ups, upload{proto: proto, url: u, mediaID: m, src: src, errs: errs, resps: resps})
	}
	time.Sleep(500 * time.Millisecond) // the gateway reads what was sent
	start := time.Now()
	if !s.GW.Stop() {
		t.Fatalf("gateway did not exit after SIGTERM")
	}
	t.Logf("gateway stopped in %v", time.Since(start).Round(time.Millisecond))
	if d := time.Since(start); d > 14*time.Second {
		t.Errorf("shutdown took %v: the stalled streams were not closed", d)
	}
	for _, u := range ups {
		select {
		case resp := <-u.resps:
			t.Logf("%s PATCH at shutdown: %s", u.proto, resp.Status)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s PATCH at shutdown: %s (Retry-After %q), want 503 with Retry-After", u.proto, resp.Status, resp.Header.Get("Retry-After"))
			}
		case err := <-u.errs:
			t.Errorf("%s PATCH at shutdown: %v, want a 503 response", u.proto, err)
		case <-time.After(10 * time.Second):
			t.Errorf("%s PATCH still running after the gateway exited", u.proto)
		}
	}
	s.GW.Start()
	for _, u := range ups {
		c := protoClient(t, u.proto, roots)
		if off := headOver(t, c, u.url); off != sent {
			t.Errorf("%s after restart: Upload-Offset %d, want %d", u.proto, off, int64(sent))
		}
		resp := protoPatch(t, c, u.url, u.src, sent)
		checkFinished(t, u.proto, resp, total, u.mediaID)
		s.checkUploaded(t, u.mediaID, u.src)
	}
}
