package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans this package makes.
const ScopeName = "github.com/vodgate/vodgate/internal/tracing"

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES set it.
const DefaultServiceName = "vodgate"

// Env looks up an environment variable (os.LookupEnv in main).
type Env func(string) (string, bool)

// Enabled reports whether tracing is on: with the config key (tracing:
// true), or when OTEL_TRACES_EXPORTER is "otlp" or an OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
// OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off whatever
// else says. It returns an error for an OTEL_TRACES_EXPORTER other than
// otlp or none, and an OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL other than
// http/protobuf or grpc.
func Enabled(configured bool, env Env) (bool, error) {
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	if _, err := protocol(env); err != nil {
		return false, err
	}
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
	default:
		return false, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", exp)
	}
	return configured || get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
}

// protocol is the OTLP protocol the environment asks for; default
// http/protobuf, as the OTLP exporter specification says.
func protocol(env Env) (string, error) {
	p, ok := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if !ok || strings.TrimSpace(p) == "" {
		p, _ = env("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch p = strings.TrimSpace(p); p {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "grpc", nil
	}
	return "", fmt.Errorf("tracing: OTLP protocol %q: want http/protobuf or grpc", p)
}

// Config configures [Setup].
type Config struct {
	// Env reads the OTEL_* variables. Required.
	Env Env
	// Configured is the tracing config key; see [Enabled].
	Configured bool
	// ServiceVersion is service.version.
	ServiceVersion string
	// Exporter, if set, replaces the OTLP exporter (tests use the SDK's
	// in-memory exporter); spans are then exported synchronously.
	Exporter sdktrace.SpanExporter
	// Logger receives the SDK's errors (a collector that cannot be
	// reached) as TracingError warnings. Setup installs it as the otel
	// library's process-wide error handler. Default: slog.Default().
	Logger *slog.Logger
}

// Tracing is set-up tracing: the SDK's provider and W3C propagation.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// Setup builds the tracer provider when tracing is enabled (see
// [Enabled]; always with cfg.Exporter) and returns nil, nil when it is
// off. The OTLP exporter reads its endpoint, headers, timeout, TLS and
// compression from the standard OTEL_EXPORTER_OTLP_* variables, the
// sampler from OTEL_TRACES_SAMPLER(_ARG) (default: parent-based, always
// on) and the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
// Setup does no network I/O; export failures are reported by the SDK.
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	if cfg.Env == nil {
		return nil, errors.New("tracing: config: Env is required")
	}
	on, err := Enabled(cfg.Configured, cfg.Env)
	if err != nil {
		return nil, err
	}
	if !on && cfg.Exporter == nil {
		return nil, nil
	}
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName(DefaultServiceName), semconv.ServiceVersion(cfg.ServiceVersion)),
		resource.Environment(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(cfg.Exporter))
	} else {
		exp, err := otlpExporter(ctx, cfg.Env)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("TracingError", "component", "tracing", "error", err)
	}))
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{
		provider:   tp,
		tracer:     tp.Tracer(ScopeName),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

func otlpExporter(ctx context.Context, env Env) (sdktrace.SpanExporter, error) {
	p, err := protocol(env)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	if p == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp %s exporter: %w", p, err)
	}
	return exp, nil
}

// TracerProvider is the provider for the library packages' Config.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}
