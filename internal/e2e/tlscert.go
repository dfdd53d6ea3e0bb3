package e2e

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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCert is a self-signed server certificate for the loopback addresses.
type testCert struct {
	CertFile, KeyFile string
	Serial            int64
	Cert              *x509.Certificate
}

// writeTestCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1,
// 127.0.0.2 and localhost, with serial, as PEM files cert.pem and key.pem
// in dir (replacing them: write to a temporary name, then rename, as a
// certificate manager would).
func writeTestCert(t testing.TB, dir string, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "vodgate e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Serial: serial, Cert: cert}
	for _, f := range []struct {
		path string
		blk  *pem.Block
	}{
		{c.KeyFile, &pem.Block{Type: "PRIVATE KEY", Bytes: kder}},
		{c.CertFile, &pem.Block{Type: "CERTIFICATE", Bytes: der}},
	} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(f.blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// certPool trusts the certificates in the PEM files.
func certPool(t testing.TB, files ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("%s: no certificate", f)
		}
	}
	return pool
}

// tlsClient is an HTTP/1.1-or-HTTP/2 client trusting the certificate in
// certFile, for short requests.
func tlsClient(t testing.TB, certFile string) *http.Client {
	t.Helper()
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: certPool(t, certFile)}, ForceAttemptHTTP2: true,
	}}
}
