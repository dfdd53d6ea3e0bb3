package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vodgate/vodgate/internal/testenv"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name       string
		configured bool
		env        map[string]string
		want       bool
		err        string
	}{
		{"off by default", false, nil, false, ""},
		{"config key", true, nil, true, ""},
		{"endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, ""},
		{"traces endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true, ""},
		{"exporter otlp", false, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"exporter none wins", true, map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, false, ""},
		{"sdk disabled wins", true, map[string]string{"OTEL_SDK_DISABLED": "true"}, false, ""},
		{"grpc", true, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, ""},
		{"unknown exporter", false, map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "zipkin"},
		{"unknown protocol", true, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, false, "http/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Enabled(tt.configured, envOf(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Enabled = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestSetup: off → nil; on → an OTLP exporter that has not dialled
// anything yet, and a clean shutdown.
func TestSetup(t *testing.T) {
	tr, err := Setup(context.Background(), Config{Env: envOf(nil)})
	if err != nil || tr != nil {
		t.Fatalf("off: %v, %v", tr, err)
	}
	for _, proto := range []string{"http/protobuf", "grpc"} {
		tr, err = Setup(context.Background(), Config{Env: envOf(map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": proto})})
		if err != nil || tr == nil {
			t.Fatalf("%s: %v, %v", proto, tr, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := tr.Shutdown(ctx); err != nil {
			t.Errorf("%s: shutdown with nothing to export: %v", proto, err)
		}
		cancel()
	}
}

func newTest(t *testing.T) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := Setup(context.Background(), Config{Env: envOf(nil), Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

func attrs(s tracetest.SpanStub) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

func TestMiddleware(t *testing.T) {
	tr, exp := newTest(t)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The writer still reaches the connection (tusd sets deadlines).
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline through the middleware: %v", err)
		}
		w.Header().Set("X-Request-ID", "rid-1")
		switch r.URL.Path {
		case "/files/":
			w.Header().Set("Location", "http://x/files/abc123")
			w.Header().Set("Vod-Media-Id", "media-1")
			w.WriteHeader(http.StatusCreated)
		case "/files/abc123":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := tr.Middleware("/files", Annotate(func(context.Context) (string, bool) { return "alice", true })(inner))
	srv := httptest.NewServer(h)
	defer srv.Close()

	do := func(method, path string, hdr map[string]string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	do(http.MethodPost, "/files/", map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	do(http.MethodPost, "/files/abc123", map[string]string{"X-HTTP-Method-Override": "PATCH"})
	do(http.MethodGet, "/healthz", nil)

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2 (the /healthz request is not traced)", len(spans))
	}
	post, patch := spans[0], spans[1]
	if post.Name != "tus POST" || post.SpanKind != trace.SpanKindServer ||
		post.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || post.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("POST span %s kind %v trace %s parent %s", post.Name, post.SpanKind, post.SpanContext.TraceID(), post.Parent.SpanID())
	}
	a := attrs(post)
	for k, want := range map[attribute.Key]string{AttrTusMethod: "POST", AttrUploadID: "abc123", AttrMediaID: "media-1",
		AttrOwner: "alice", AttrRequestID: "rid-1", "http.response.status_code": "201"} {
		if a[k] != want {
			t.Errorf("POST %s = %q, want %q", k, a[k], want)
		}
	}
	a = attrs(patch)
	if patch.Name != "tus PATCH" || a[AttrTusMethod] != "PATCH" || a[AttrUploadID] != "abc123" || patch.Parent.IsValid() ||
		patch.Status.Code != codes.Error {
		t.Errorf("PATCH span %s attrs %v parent %v status %v", patch.Name, a, patch.Parent, patch.Status)
	}
}

func TestLogHandler(t *testing.T) {
	tr, _ := newTest(t)
	var b bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&b, nil))).With("component", "x")
	log.InfoContext(context.Background(), "NoSpan")
	if strings.Contains(b.String(), "trace_id") {
		t.Errorf("trace_id without a span: %s", b.String())
	}
	ctx, span := tr.provider.Tracer("t").Start(context.Background(), "s")
	defer span.End()
	b.Reset()
	log.InfoContext(ctx, "InSpan")
	want := `"trace_id":"` + span.SpanContext().TraceID().String() + `","span_id":"` + span.SpanContext().SpanID().String() + `"`
	if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), `"component":"x"`) {
		t.Errorf("log %s lacks %s", b.String(), want)
	}
}

// TestRedisHook runs commands, a script and a pipeline on a real Redis:
// spans only below a parent; NOSCRIPT and redis.Nil are not failures.
func TestRedisHook(t *testing.T) {
	tr, exp := newTest(t)
	rdb := testenv.Redis(t)
	prefix := testenv.KeyPrefix(t, rdb)
	rdb.AddHook(tr.RedisHook())
	bg := context.Background()
	if err := rdb.Set(bg, prefix+":a", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans without a parent span, want 0", n)
	}
	ctx, parent := tr.provider.Tracer("t").Start(bg, "parent")
	if err := rdb.Get(ctx, prefix+":missing").Err(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}
	script := redis.NewScript(`return redis.call('GET', KEYS[1]) .. "` + prefix + `"`) // new SHA: NOSCRIPT first
	if err := script.Run(ctx, rdb, []string{prefix + ":a"}).Err(); err != nil {
		t.Fatalf("script: %v", err)
	}
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, prefix+":n")
		p.Expire(ctx, prefix+":n", time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var names []string
	for _, s := range exp.GetSpans() {
		if s.Name == "parent" {
			continue
		}
		names = append(names, s.Name)
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanKind != trace.SpanKindClient {
			t.Errorf("%s: parent %s kind %v", s.Name, s.Parent.SpanID(), s.SpanKind)
		}
		if s.Status.Code == codes.Error {
			t.Errorf("%s marked failed: %s", s.Name, s.Status.Description)
		}
	}
	if got, want := strings.Join(names, ","), "redis GET,redis EVALSHA,redis EVAL,redis pipeline"; got != want {
		t.Errorf("spans %s, want %s", got, want)
	}
}
