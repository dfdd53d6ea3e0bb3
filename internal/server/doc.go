// Package server is the gateway's HTTP surface: it mounts the tusd v2
// protocol handler under a base path in its own [http.Server] and adds what
// the protocol handler does not do itself.
//
// Routes:
//
//	<BasePath>   the tus endpoint (POST, HEAD, PATCH, DELETE, OPTIONS)
//	/healthz     200 while the process serves requests
//	/readyz      200 when every [Pinger] answers, else 503 with Retry-After
//	/metrics     Prometheus exposition of the registry in [Config]
//
// Middleware, outermost first: request ID (X-Request-ID is kept when it is
// safe, otherwise generated, and echoed in the response), structured access
// log and request metrics, Retry-After on 503 responses that lack one, and,
// on the tus routes only, the Vod-Media-Id / Vod-Media-Type response headers
// (from a [MediaLookup]) on successful POST, HEAD and PATCH responses and
// the tus expiration extension (Upload-Expires from an [ExpiryLookup]),
// which tusd v2.9.1 does not implement itself. [Config.TusMiddleware]
// (authentication) runs in front of those and of tusd; its own error
// responses get the CORS headers tusd would have sent. Two protocol
// corrections over tusd v2.9.1: malformed Upload-Metadata is rejected with
// 400 before the store runs (tusd silently drops bad pairs), and a PATCH
// with the wrong Content-Type gets 415 (tusd answers 400).
// CORS is configured on tusd itself ([handler.CorsConfig]) so that preflight
// answers and exposed headers come from one place; see [CORSConfig].
//
// Shutdown mirrors tusd's own CLI: when the context given to [Server.Run]
// ends, the listener closes, the server's base context is cancelled with
// [handler.ErrServerShutdown] so tusd closes the bodies of in-flight PATCH
// requests, and the data store keeps GracefulRequestCompletionTimeout to
// persist what it has read. [http.Server.Shutdown] waits for handlers to
// return for at most ShutdownTimeout, after which connections are closed.
//
// Logging goes through [NewLogger], a JSON [log/slog] logger whose handler
// ([Redact]) masks secrets by key and by shape. tusd v2.9.1 logs through
// golang.org/x/exp/slog; [TusdLogger] bridges it into the same handler.
//
// The package never imports the Aliyun SDKs or the Redis client: the store
// composer, media lookup and pingers are handed in by cmd/gateway.
package server
