package edge

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is how often, at most, a handshake looks at the
// certificate files for a change.
const DefaultCheckInterval = time.Second

// Certs serves a certificate loaded from a certificate file and a key
// file, reloading it when the files change. Its methods are safe for
// concurrent use.
type Certs struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	logger            *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     fileStamp // of the files cert was loaded from
	lastCheck time.Time
	failed    fileStamp // stamp of the last pair that failed to load, not retried until it changes
}

// fileStamp identifies a version of the two files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewCerts loads the certificate and key (PEM) and returns a [Certs]
// serving them. interval (default [DefaultCheckInterval]) bounds how often
// handshakes stat the files; now defaults to time.Now.
func NewCerts(certFile, keyFile string, interval time.Duration, now func() time.Time, logger *slog.Logger) (*Certs, error) {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	c := &Certs{certFile: certFile, keyFile: keyFile, interval: interval, now: now, logger: logger}
	st, err := c.statFiles()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp, c.lastCheck = cert, st, now()
	return c, nil
}

// GetCertificate is a [tls.Config.GetCertificate]: it returns the current
// certificate, first reloading it if the files changed since it was loaded
// (looked at no more than once per interval).
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.lastCheck) >= c.interval {
		c.lastCheck = now
		c.reloadLocked(false)
	}
	return c.cert, nil
}

// Reload re-reads the files now, even if they look unchanged. On error the
// previous certificate stays in use and the error is returned.
func (c *Certs) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastCheck = c.now()
	return c.reloadLocked(true)
}

// Current returns the certificate being served.
func (c *Certs) Current() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert
}

func (c *Certs) reloadLocked(force bool) error {
	st, err := c.statFiles()
	if err != nil {
		c.logger.Warn("CertificateReloadFailed", "certFile", c.certFile, "keyFile", c.keyFile, "error", err)
		return err
	}
	if !force && (st == c.stamp || st == c.failed) {
		return nil
	}
	cert, err := c.load()
	if err != nil {
		c.failed = st
		c.logger.Warn("CertificateReloadFailed", "certFile", c.certFile, "keyFile", c.keyFile, "error", err)
		return err
	}
	c.cert, c.stamp, c.failed = cert, st, fileStamp{}
	c.logger.Info("CertificateLoaded", "certFile", c.certFile, "subject", cert.Leaf.Subject.String(),
		"notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "serial", cert.Leaf.SerialNumber.Text(16))
	return nil
}

func (c *Certs) statFiles() (fileStamp, error) {
	cs, err := os.Stat(c.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("edge: certificate: %w", err)
	}
	ks, err := os.Stat(c.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("edge: key: %w", err)
	}
	return fileStamp{certMod: cs.ModTime(), keyMod: ks.ModTime(), certSize: cs.Size(), keySize: ks.Size()}, nil
}

// load reads and parses the pair; the leaf is parsed too (Go 1.23+ fills
// Leaf), so a mismatched or expired-looking pair fails here, not in a
// handshake.
func (c *Certs) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("edge: load certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	if cert.Leaf == nil {
		return nil, fmt.Errorf("edge: certificate %s: no leaf", c.certFile)
	}
	return &cert, nil
}
