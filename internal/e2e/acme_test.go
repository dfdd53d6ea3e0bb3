package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// pebbleCA is a running Pebble (Let's Encrypt's test ACME CA).
type pebbleCA struct {
	Directory string // https://127.0.0.1:PORT/dir
	APIRoot   string // PEM file of the certificate Pebble's API serves
	mgmt      string // https://127.0.0.1:PORT
}

// startPebble starts Pebble validating TLS-ALPN-01 challenges on tlsPort.
func startPebble(t *testing.T, tlsPort string) *pebbleCA {
	t.Helper()
	bin := testenv.Pebble(t)
	dir := t.TempDir()
	api := writeTestCert(t, dir, 99)
	listen, mgmt, httpPort := freeAddr(t), freeAddr(t), freeAddr(t)
	_, hp, _ := net.SplitHostPort(httpPort)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": api.CertFile, "privateKey": api.KeyFile,
		"httpPort": json.Number(hp), "tlsPort": json.Number(tlsPort),
		"retryAfter": map[string]int{"authz": 1, "order": 1}, "keyAlgorithm": "ecdsa",
		"profiles": map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 86400}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	log := newTailLog(64 << 10)
	cmd := exec.Command(bin, "-config", cfgFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("---- pebble log ----\n%s", log.String())
		}
	})
	p := &pebbleCA{Directory: "https://" + listen + "/dir", APIRoot: api.CertFile, mgmt: "https://" + mgmt}
	c := tlsClient(t, api.CertFile)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not answering %s: %v\n%s", p.Directory, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Roots is a pool with the root Pebble issues from (it makes a new one
// each run).
func (p *pebbleCA) Roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := tlsClient(t, p.APIRoot).Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble root: no PEM in %q", b)
	}
	return pool
}

// TestACMECertificate starts the gateway with acme-domains=localhost
// against Pebble: the gateway answers the TLS-ALPN-01 challenge on its own
// listener, serves the certificate Pebble issued over HTTP/2 and HTTP/3,
// keeps it in Redis, and uploads work over both.
func TestACMECertificate(t *testing.T) {
	s := newStack(t, stackOptions{NoGateway: true})
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	ca := startPebble(t, port)

	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env["VODGATE_ACME_DOMAINS"] = "localhost"
	env["VODGATE_ACME_CA"] = ca.Directory
	env["VODGATE_ACME_CA_ROOT_FILE"] = ca.APIRoot
	env["VODGATE_HTTP3"] = "true"
	log := newTailLog(256 << 10)
	cmd := exec.Command(s.bin)
	cmd.Env = gatewayEnv(env, addr)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("---- gateway log ----\n%s", log.String())
		}
	})

	roots := ca.Roots(t)
	base := "https://localhost:" + port
	ready := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for {
		resp, err := ready.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(strings.ToLower(iss), "pebble") {
					t.Errorf("certificate issued by %q, want Pebble", iss)
				}
				break
			}
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from the ACME CA after 60s (last: %v)", last)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for i, proto := range []string{"h2", "h3"} {
		c := protoClient(t, proto, roots)
		src := makeSource(t, 3*MiB+5, uint64(900+i))
		uploadURL, mediaID := protoCreate(t, c, proto, base+"/files/", src.Size, "acme-"+proto+".mp4")
		resp := protoPatch(t, c, uploadURL, src, 0)
		checkFinished(t, proto, resp, src.Size, mediaID)
		s.checkUploaded(t, mediaID, src)
	}

	rdb := redisClient(t, s.env["VODGATE_REDIS_URL"])
	keys, err := rdb.SMembers(context.Background(), s.prefix+":acme:{acme}:index").Result()
	if err != nil {
		t.Fatal(err)
	}
	var stored bool
	for _, k := range keys {
		stored = stored || strings.HasSuffix(k, "/localhost/localhost.crt")
	}
	if !stored {
		t.Errorf("no certificate for localhost in Redis (keys %v)", keys)
	}
}
