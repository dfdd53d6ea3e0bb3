package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// DefaultCA is Let's Encrypt's production directory.
const DefaultCA = certmagic.LetsEncryptProductionCA

// Config configures a [Manager].
type Config struct {
	// Domains are the names to obtain a certificate for. Required.
	Domains []string
	// Email is the ACME account's contact; may be empty.
	Email string
	// CA is the ACME directory URL. Default: [DefaultCA].
	CA string
	// CARootFile, if set, is a PEM file of roots trusted for the CA's own
	// HTTPS API (a private CA such as step-ca, or a test CA).
	CARootFile string
	// Storage keeps certificates, keys and locks. Required.
	Storage certmagic.Storage
	// Logger receives certmagic's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Storage is where certificates, keys and locks live.
type Storage = certmagic.Storage

// FileStorage keeps certificates, keys and locks in a directory.
func FileStorage(dir string) Storage { return &certmagic.FileStorage{Path: dir} }

// Manager serves the managed certificates and answers TLS-ALPN-01
// challenges in handshakes.
type Manager struct {
	magic *certmagic.Config
	cache *certmagic.Cache
}

// New starts managing cfg.Domains: certificates in storage are loaded, and
// missing or expiring ones are obtained in the background (handshakes for
// a name without a certificate yet fail until it is obtained). Close stops
// the renewals.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("acme: no domains")
	}
	if cfg.Storage == nil {
		return nil, errors.New("acme: no storage")
	}
	if cfg.CA == "" {
		cfg.CA = DefaultCA
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var roots *x509.CertPool
	if cfg.CARootFile != "" {
		b, err := os.ReadFile(cfg.CARootFile)
		if err != nil {
			return nil, fmt.Errorf("acme: CA root file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("acme: CA root file %s: no PEM certificate", cfg.CARootFile)
		}
	}
	zl := zapLogger(cfg.Logger.With("component", "acme"))
	m := &Manager{}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{Storage: cfg.Storage, Logger: zl})
	m.magic.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA: cfg.CA, Email: cfg.Email, Agreed: true, TrustedRoots: roots,
		DisableHTTPChallenge: true, // TLS-ALPN-01 on the gateway's own listener only
		Logger:               zl,
	})}
	if err := m.magic.ManageAsync(ctx, cfg.Domains); err != nil {
		m.cache.Stop()
		return nil, fmt.Errorf("acme: manage %v: %w", cfg.Domains, err)
	}
	return m, nil
}

// GetCertificate is a [tls.Config.GetCertificate]: the managed certificate
// for the handshake's name, or the challenge certificate when the CA
// validates (ALPN acme-tls/1).
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.magic.GetCertificate(hello)
}

// NextProtos are the ALPN protocols the listener must also offer.
func (m *Manager) NextProtos() []string { return []string{acmez.ACMETLS1Protocol} }

// Close stops renewing.
func (m *Manager) Close() error {
	m.cache.Stop()
	return nil
}
