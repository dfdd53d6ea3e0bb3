// Package acme obtains and renews the gateway's TLS certificates from an
// ACME CA (Let's Encrypt by default) with github.com/caddyserver/certmagic,
// for the names in acme-domains, answering the CA's TLS-ALPN-01 challenge
// on the gateway's own TLS listener (so the listener must be what the CA
// reaches on port 443; there is no HTTP-01 on port 80). Certificates,
// account keys and locks live in a [certmagic.Storage]: the gateway's Redis
// ([RedisStorage], shared by every instance, so one instance obtains and
// the others load) or a directory (certmagic.FileStorage).
//
// certmagic logs through zap; [Manager] bridges it into the gateway's
// slog logger.
package acme
