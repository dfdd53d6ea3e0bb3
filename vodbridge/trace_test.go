package vodbridge

import (
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestSimTracing: with a TracerProvider, each API call is one client span
// "vod <Action>" below the caller's span, its retries are events, and a
// call that fails for good carries the VOD error code and an error status.
func TestSimTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	env := newSim(t, nil)
	c := env.client(t, func(c *Config) { c.MaxAttempts = 3; c.TracerProvider = tp })
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")

	env.vod.FailNext("CreateUploadVideo", 2, 400, "Throttling.User")
	if _, err := c.CreateUpload(ctx, CreateRequest{Title: "t", FileName: "a.mp4"}); err != nil {
		t.Fatal(err)
	}
	env.vod.FailNext("RefreshUploadVideo", 3, 400, "Throttling.User")
	if _, err := c.RefreshUpload(ctx, "v"); err == nil {
		t.Fatal("refresh throttled 3 times succeeded")
	}
	parent.End()

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for i, want := range []struct {
		name    string
		retries int
		failed  bool
	}{{"vod CreateUploadVideo", 2, false}, {"vod RefreshUploadVideo", 2, true}} {
		s := spans[i]
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		switch {
		case s.Name != want.name || s.SpanKind != trace.SpanKindClient:
			t.Errorf("span %d: %s kind %v, want %s", i, s.Name, s.SpanKind, want.name)
		case s.Parent.SpanID() != parent.SpanContext().SpanID():
			t.Errorf("%s: not below the caller's span", s.Name)
		case len(s.Events) < want.retries || s.Events[0].Name != "retry":
			t.Errorf("%s: events %v, want %d retries", s.Name, s.Events, want.retries)
		case want.failed && (s.Status.Code != codes.Error || attrs["vod.error_code"] != "Throttling.User"):
			t.Errorf("%s: status %v attrs %v, want an error with vod.error_code", s.Name, s.Status, attrs)
		case !want.failed && s.Status.Code == codes.Error:
			t.Errorf("%s: status %v after a success", s.Name, s.Status)
		}
	}

	// Without a TracerProvider, no tracer at all.
	if plain := env.client(t, nil); plain.tracer != nil {
		t.Error("client without TracerProvider has a tracer")
	}
}
