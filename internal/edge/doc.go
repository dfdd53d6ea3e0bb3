// Package edge is how the gateway meets its clients on the wire: the TCP
// (and, for HTTP/3, UDP) listener, TLS with certificates reloaded from disk,
// and the protocols spoken on top: HTTP/1.1, HTTP/2 over TLS, h2c (HTTP/2
// with prior knowledge on a plain listener) and HTTP/3 over QUIC.
//
// Every protocol serves the same [net/http.Handler] (the one set on the
// [net/http.Server] given to [Edge.Serve]), so authentication, limits,
// metrics and logging are identical whatever the client speaks. HTTP/3
// requests also get the server's base context: when it is cancelled (at
// shutdown, with tusd's ErrServerShutdown) their request contexts are
// cancelled with the same cause, exactly as for HTTP/1.1 and HTTP/2.
//
// Certificates ([Certs]) are read from a PEM certificate chain and a PEM
// key file. A handshake re-reads them when either file changed (its
// modification time or size), checking at most once per CheckInterval;
// [Edge.Reload] (SIGHUP) re-reads them at once. A pair that fails to load
// (e.g. half written during a rotation) is logged and the previous
// certificate keeps being served. Connections already open keep theirs.
//
// TLS defaults: TLS 1.2 minimum (1.3 for QUIC), Go's default cipher suites
// and key exchanges (AEAD only, X25519MLKEM768 first), ALPN h2 and
// http/1.1 on TCP, h3 on UDP. HTTP/3 is advertised on TCP responses with
// Alt-Svc naming the listener's port.
package edge
