package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// edgeStack is a stack whose gateway serves TLS with HTTP/2 and HTTP/3 from
// a self-signed certificate written into CertDir.
type edgeStack struct {
	*stack
	CertDir string
	Cert    testCert
}

func newEdgeStack(t *testing.T, env map[string]string) *edgeStack {
	t.Helper()
	dir := t.TempDir()
	c := writeTestCert(t, dir, 1)
	e := map[string]string{"VODGATE_TLS_CERT_FILE": c.CertFile, "VODGATE_TLS_KEY_FILE": c.KeyFile, "VODGATE_HTTP3": "true"}
	for k, v := range env {
		e[k] = v
	}
	return &edgeStack{stack: newStack(t, stackOptions{Env: e}), CertDir: dir, Cert: c}
}

// protoClient is a client that speaks only proto ("h1", "h2", "h2c" or
// "h3") and trusts roots; it has no overall timeout (uploads use contexts).
func protoClient(t testing.TB, proto string, roots *x509.CertPool) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: roots}
	var p http.Protocols
	var rt http.RoundTripper
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2":
		p.SetHTTP2(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	case "h3":
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		t.Cleanup(func() { _ = tr.Close() })
		rt = tr
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	if rt == nil {
		tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	return &http.Client{Transport: rt}
}

// wantProto is the Response.Proto of each protocol.
var wantProto = map[string]string{"h1": "HTTP/1.1", "h2": "HTTP/2.0", "h2c": "HTTP/2.0", "h3": "HTTP/3.0"}

// tusReq sends one tus request with c and reads the response body.
func tusReq(ctx context.Context, c *http.Client, method, target string, hdr map[string]string, body io.Reader, length int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = length
	if body == nil {
		req.ContentLength = 0
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// protoCreate creates an upload of length bytes over c and returns its URL
// and media ID, checking the response came over proto.
func protoCreate(t testing.TB, c *http.Client, proto, endpoint string, length int64, filename string) (string, string) {
	t.Helper()
	resp, err := tusReq(context.Background(), c, http.MethodPost, endpoint, map[string]string{
		"Upload-Length": itoa(length), "Upload-Metadata": encodeMetadata(map[string]string{"filename": filename}),
	}, nil, 0)
	if err != nil {
		t.Fatalf("%s POST: %v", proto, err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s POST: %s", proto, resp.Status)
	}
	if resp.Proto != wantProto[proto] {
		t.Errorf("%s POST answered over %s, want %s", proto, resp.Proto, wantProto[proto])
	}
	return absURL(t, endpoint, resp.Header.Get("Location")), resp.Header.Get("Vod-Media-Id")
}

// protoPatch sends src's bytes from off to the end in one PATCH over c and
// returns the response.
func protoPatch(t testing.TB, c *http.Client, uploadURL string, src source, off int64) *http.Response {
	t.Helper()
	f, err := os.Open(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := tusReq(ctx, c, http.MethodPatch, uploadURL, map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": itoa(off),
	}, io.NewSectionReader(f, off, src.Size-off), src.Size-off)
	if err != nil {
		t.Fatalf("PATCH at %d: %v", off, err)
	}
	return resp
}

// headOver HEADs the upload over c and returns Upload-Offset.
func headOver(t testing.TB, c *http.Client, uploadURL string) int64 {
	t.Helper()
	resp, err := tusReq(context.Background(), c, http.MethodHead, uploadURL, nil, nil, 0)
	if err != nil {
		t.Fatalf("HEAD: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %s", resp.Status)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD Upload-Offset %q: %v", resp.Header.Get("Upload-Offset"), err)
	}
	return n
}

// checkFinished checks a PATCH response that should end the upload.
func checkFinished(t testing.TB, proto string, resp *http.Response, size int64, mediaID string) {
	t.Helper()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s PATCH: %s", proto, resp.Status)
	}
	if resp.Proto != wantProto[proto] {
		t.Errorf("%s PATCH answered over %s", proto, resp.Proto)
	}
	if got := resp.Header.Get("Upload-Offset"); got != itoa(size) {
		t.Errorf("%s PATCH: Upload-Offset %s, want %d", proto, got, size)
	}
	if got := resp.Header.Get("Vod-Media-Id"); got != mediaID {
		t.Errorf("%s PATCH: Vod-Media-Id %q, POST said %q", proto, got, mediaID)
	}
}

// TestUploadOverEachProtocol uploads with tus over HTTP/1.1, HTTP/2 and
// HTTP/3 to a TLS gateway and over h2c to a plain one with h2c on, and
// checks each object's SHA-256 in the OSS simulator, the Alt-Svc
// advertisement and that every protocol runs the same handler chain (the
// access log records each request with its protocol's request ID).
func TestUploadOverEachProtocol(t *testing.T) {
	s := newEdgeStack(t, nil)
	plain := s.startGateway(map[string]string{"VODGATE_TLS_CERT_FILE": "", "VODGATE_TLS_KEY_FILE": "", "VODGATE_HTTP3": "false", "VODGATE_H2C": "true"})
	roots := certPool(t, s.Cert.CertFile)
	_, port, _ := strings.Cut(s.GW.addr, ":")

	for i, proto := range []string{"h1", "h2", "h3", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			gw := s.GW
			if proto == "h2c" {
				gw = plain
			}
			c := protoClient(t, proto, roots)
			src := makeSource(t, 12*MiB+777, uint64(200+i))
			uploadURL, mediaID := protoCreate(t, c, proto, gw.Endpoint(), src.Size, proto+".mp4")
			resp := protoPatch(t, c, uploadURL, src, 0)
			checkFinished(t, proto, resp, src.Size, mediaID)
			alt := resp.Header.Get("Alt-Svc")
			switch proto {
			case "h1", "h2":
				if want := `h3=":` + port + `"`; !strings.HasPrefix(alt, want) {
					t.Errorf("Alt-Svc = %q, want %s...", alt, want)
				}
			case "h2c":
				if alt != "" {
					t.Errorf("plain listener advertises Alt-Svc %q", alt)
				}
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no X-Request-ID: the handler chain was not the same", proto)
			}
			s.checkUploaded(t, mediaID, src)
		})
	}

	// The request metrics count each protocol: the same chain served them.
	for _, m := range []struct {
		gw   *gatewayProc
		want []string
	}{
		{s.GW, []string{`protocol="HTTP/1.1",tls="true"`, `protocol="HTTP/2.0",tls="true"`, `protocol="HTTP/3.0",tls="true"`}},
		{plain, []string{`protocol="HTTP/2.0",tls="false"`}},
	} {
		resp, err := m.gw.ready.Get(m.gw.URL() + "/metrics")
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range m.want {
			// At least POST and PATCH (/readyz and /metrics count too).
			re := regexp.MustCompile(`(?m)^vodgate_http_requests_by_protocol_total\{` + regexp.QuoteMeta(w) + `\} (\d+)$`)
			if got := re.FindStringSubmatch(string(b)); got == nil || len(got[1]) == 1 && got[1] < "2" {
				t.Errorf("%s /metrics: vodgate_http_requests_by_protocol_total{%s} = %v, want at least 2 (POST and PATCH)", m.gw.name, w, got)
			}
		}
	}
}

// TestInterruptedStreamKeepsBytes resets a PATCH stream (HTTP/2 RST_STREAM,
// HTTP/3 RESET_STREAM) after the gateway read part of its body: HEAD must
// count every byte sent (not roll back to the 8 MiB part boundary), and a
// resume over the same protocol must finish a correct object.
func TestInterruptedStreamKeepsBytes(t *testing.T) {
	s := newEdgeStack(t, nil)
	roots := certPool(t, s.Cert.CertFile)
	for i, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			const total, cut = 20 * MiB, 11*MiB + 4321
			c := protoClient(t, proto, roots)
			src := makeSource(t, total, uint64(300+i))
			uploadURL, mediaID := protoCreate(t, c, proto, s.GW.Endpoint(), total, "cut-"+proto+".mp4")

			pr, pw := io.Pipe()
			errc := make(chan error, 1)
			go func() {
				resp, err := tusReq(context.Background(), c, http.MethodPatch, uploadURL, map[string]string{
					"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
				}, pr, total)
				if err == nil {
					err = errors.New("PATCH answered " + resp.Status)
				}
				errc <- err
			}()
			if _, err := pw.Write(src.readRange(t, 0, cut)); err != nil {
				t.Fatalf("write body: %v", err)
			}
			time.Sleep(time.Second) // the gateway reads what was sent
			pw.CloseWithError(errors.New("test: stream cut"))
			select {
			case err := <-errc:
				t.Logf("cut PATCH: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("cut PATCH did not end")
			}

			off := headOver(t, c, uploadURL)
			t.Logf("%s: HEAD after the cut: Upload-Offset %d of %d sent", proto, off, int64(cut))
			if off != cut {
				t.Errorf("Upload-Offset = %d, want %d (every byte sent before the reset)", off, int64(cut))
			}
			resp := protoPatch(t, c, uploadURL, src, off)
			checkFinished(t, proto, resp, total, mediaID)
			s.checkUploaded(t, mediaID, src)
		})
	}
}
