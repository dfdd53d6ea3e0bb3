// Package tracing is the gateway's OpenTelemetry tracing: the SDK set up
// from the standard OTEL_* environment variables with an OTLP exporter, an
// HTTP middleware that makes one server span per request (continuing a
// client's W3C traceparent), a go-redis hook that makes a span per Redis
// command or pipeline (scripts included), and a slog handler that adds
// trace_id and span_id to records logged with a traced context.
//
// Tracing is off unless [Enabled] says otherwise; when off, [Setup]
// returns nil and nothing is installed: the request path, the Redis client
// and the store's byte path stay exactly as without tracing. Library
// packages (tusstore, vodbridge, locker) take an
// go.opentelemetry.io/otel/trace.TracerProvider in their Config and make
// their own child spans; only this package knows the SDK.
package tracing
