package edge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writePair writes a fresh self-signed certificate for 127.0.0.1 with the
// given serial into certFile and keyFile, and returns the serial.
func writePair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "edge test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// touch moves both files' modification time to at, as a rotation would.
func touch(t *testing.T, at time.Time, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func serial(t *testing.T, c *Certs) int64 {
	t.Helper()
	crt, err := c.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return crt.Leaf.SerialNumber.Int64()
}

func TestCertsReload(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, cf, kf, 1)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	touch(t, t0, cf, kf)
	clk := &clock{t: time.Now()}
	c, err := NewCerts(cf, kf, time.Second, clk.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, c); got != 1 {
		t.Fatalf("serial = %d, want 1", got)
	}

	// Rotated on disk: not seen before the check interval, seen after it.
	writePair(t, cf, kf, 2)
	touch(t, t0.Add(10*time.Second), cf, kf)
	clk.add(500 * time.Millisecond)
	if got := serial(t, c); got != 1 {
		t.Errorf("within the check interval: serial = %d, want 1 (files not looked at yet)", got)
	}
	clk.add(600 * time.Millisecond)
	if got := serial(t, c); got != 2 {
		t.Errorf("after the check interval: serial = %d, want 2", got)
	}

	// A half-written rotation (new certificate, old key) fails to load:
	// the previous pair stays in use until the files change again.
	key2, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, cf, kf, 3)
	if err := os.WriteFile(kf, key2, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, t0.Add(20*time.Second), cf, kf)
	clk.add(2 * time.Second)
	if got := serial(t, c); got != 2 {
		t.Errorf("mismatched pair: serial = %d, want 2 (kept)", got)
	}
	if err := c.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("Reload of a mismatched pair: %v, want a key mismatch error", err)
	}

	// Forced reload (SIGHUP) sees a good pair even with the same stamps.
	writePair(t, cf, kf, 4)
	touch(t, t0.Add(20*time.Second), cf, kf)
	if err := c.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := c.Current().Leaf.SerialNumber.Int64(); got != 4 {
		t.Errorf("after Reload: serial = %d, want 4", got)
	}

	// Files gone: the certificate being served stays.
	if err := os.Remove(cf); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Second)
	if got := serial(t, c); got != 4 {
		t.Errorf("files removed: serial = %d, want 4", got)
	}
}

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, cf, kf, 1)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = no error
	}{
		{"plain", Config{}, ""},
		{"h2c", Config{H2C: true}, ""},
		{"tls", Config{CertFile: cf, KeyFile: kf, HTTP3: true}, ""},
		{"cert without key", Config{CertFile: cf}, "both needed"},
		{"key without cert", Config{KeyFile: kf}, "both needed"},
		{"http3 without tls", Config{HTTP3: true}, "HTTP/3 needs TLS"},
		{"missing file", Config{CertFile: cf + ".nope", KeyFile: kf}, "no such file"},
		{"swapped files", Config{CertFile: kf, KeyFile: cf}, "load certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			case tc.want == "" && e.TLS() != (tc.cfg.CertFile != ""):
				t.Errorf("TLS() = %v", e.TLS())
			}
		})
	}
}
