package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/tracing"
)

// TestTracingThroughWiring builds the whole gateway (build, as main does)
// in -dev with tracing on and the SDK's in-memory exporter, uploads with
// an upload token, and checks the traces: one per request, each with one
// server span carrying the tus method, upload ID, owner and media ID; the
// client's traceparent continued; the child spans for lock acquisition,
// VOD calls, OSS part uploads and Complete, and Redis scripts all inside
// the request's trace; the trace IDs in the logs.
func TestTracingThroughWiring(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := tracing.Setup(ctx, tracing.Config{Env: tracing.Env(mapEnv(nil)), Exporter: exp})
	if err != nil || tr == nil {
		t.Fatalf("Setup: %v, %v", tr, err)
	}
	defer tr.Shutdown(context.Background())

	key := bytes.Repeat([]byte("k"), auth.MinKeyBytes)
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := auth.MintUploadToken(key, auth.UploadClaims{Subject: "alice", Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Dev, cfg.Listen, cfg.DevDataDir = true, "127.0.0.1:0", t.TempDir()
	cfg.DevOSSListen, cfg.DevVODListen, cfg.DevRedisListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PartSize, cfg.AuthUploadTokenKeyFile = 100<<10, keyFile
	var logs syncBuffer
	logger := slog.New(tracing.LogHandler(slog.NewJSONHandler(&logs, nil)))
	a, err := build(ctx, cfg, logger, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	served := make(chan error, 1)
	go func() { served <- a.server.Serve(ctx, a.ln) }()
	defer func() { cancel(); <-served }()
	endpoint := tusURL(a.ln.Addr().String(), cfg.BasePath)

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	const patchTrace, patchParent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	data := bytes.Repeat([]byte("0123456789abcdef"), 15<<10) // 240 KiB: two 100 KiB parts and a tail
	authz := "Bearer " + tok
	res := tusDo(t, "POST", endpoint, map[string]string{"Authorization": authz, "Upload-Length": strconv.Itoa(len(data)),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("clip.mp4")),
		"Traceparent":     "00-" + clientTrace + "-" + clientSpan + "-01"}, nil)
	loc, mediaID := res.Header.Get("Location"), res.Header.Get("Vod-Media-Id")
	if res.StatusCode != http.StatusCreated || mediaID == "" {
		t.Fatalf("POST: %d %q", res.StatusCode, mediaID)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	res = tusDo(t, "PATCH", loc, map[string]string{"Authorization": authz, "Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream", "Traceparent": "00-" + patchTrace + "-" + patchParent + "-01"}, data)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", res.StatusCode)
	}
	if res = tusDo(t, "HEAD", loc, map[string]string{"Authorization": authz}, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
	if r, err := http.Get(strings.Replace(endpoint, "/files/", "/healthz", 1)); err != nil || r.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", r, err)
	}

	spans := exp.GetSpans()
	for _, s := range spans {
		if !testing.Verbose() {
			break
		}
		t.Logf("%s %s parent=%s %s", s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.Name)
	}
	byTrace := map[trace.TraceID][]tracetest.SpanStub{}
	var servers []tracetest.SpanStub
	for _, s := range spans {
		byTrace[s.SpanContext.TraceID()] = append(byTrace[s.SpanContext.TraceID()], s)
		if s.SpanKind == trace.SpanKindServer {
			servers = append(servers, s)
		}
	}
	// One server span per tus request (POST, PATCH, HEAD; /healthz is not
	// traced), each alone in its trace.
	if len(servers) != 3 {
		t.Fatalf("%d server spans, want 3 (POST, PATCH, HEAD): %v", len(servers), names(spans))
	}
	for _, s := range servers {
		n := 0
		for _, o := range byTrace[s.SpanContext.TraceID()] {
			if o.SpanKind == trace.SpanKindServer {
				n++
			}
		}
		if n != 1 {
			t.Errorf("trace %s has %d server spans", s.SpanContext.TraceID(), n)
		}
	}

	tests := []struct {
		method, traceID, parent string
		children                []string // span names that must be in the trace, below the server span
	}{
		{"POST", clientTrace, clientSpan, []string{"vod CreateUploadVideo", "redis EVALSHA"}},
		{"PATCH", patchTrace, patchParent, []string{"lock acquire", "oss InitiateMultipartUpload", "oss UploadPart",
			"oss CompleteMultipartUpload", "redis EVALSHA"}},
		{"HEAD", "", "", []string{"lock acquire"}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var srv *tracetest.SpanStub
			for i := range servers {
				if servers[i].Name == "tus "+tt.method {
					srv = &servers[i]
				}
			}
			if srv == nil {
				t.Fatalf("no span tus %s in %v", tt.method, names(spans))
			}
			if tt.traceID != "" {
				if got := srv.SpanContext.TraceID().String(); got != tt.traceID {
					t.Errorf("trace ID %s, want the client's %s", got, tt.traceID)
				}
				if got := srv.Parent.SpanID().String(); got != tt.parent || !srv.Parent.IsRemote() {
					t.Errorf("parent %s (remote %v), want the client's span %s", got, srv.Parent.IsRemote(), tt.parent)
				}
			} else if srv.Parent.IsValid() {
				t.Errorf("span without traceparent has parent %v", srv.Parent)
			}
			attrs := map[attribute.Key]string{}
			for _, kv := range srv.Attributes {
				attrs[kv.Key] = kv.Value.Emit()
			}
			for k, want := range map[attribute.Key]string{tracing.AttrTusMethod: tt.method, tracing.AttrUploadID: id,
				tracing.AttrOwner: "alice", tracing.AttrMediaID: mediaID} {
				if attrs[k] != want {
					t.Errorf("attribute %s = %q, want %q (all: %v)", k, attrs[k], want, attrs)
				}
			}
			if attrs[tracing.AttrRequestID] == "" {
				t.Errorf("no request ID attribute: %v", attrs)
			}
			// Every other span of the trace descends from the server span.
			inTrace := byTrace[srv.SpanContext.TraceID()]
			parent := map[trace.SpanID]trace.SpanID{}
			for _, s := range inTrace {
				parent[s.SpanContext.SpanID()] = s.Parent.SpanID()
			}
			got := map[string]int{}
			for _, s := range inTrace {
				if s.SpanContext.SpanID() == srv.SpanContext.SpanID() {
					continue
				}
				got[s.Name]++
				p := s.Parent.SpanID()
				for p.IsValid() && p != srv.SpanContext.SpanID() {
					p = parent[p]
				}
				if !p.IsValid() {
					t.Errorf("span %s is not below tus %s", s.Name, tt.method)
				}
			}
			for _, name := range tt.children {
				if got[name] == 0 {
					t.Errorf("no %q span below tus %s; spans: %v", name, tt.method, got)
				}
			}
			if tt.method == "PATCH" && got["oss UploadPart"] != 3 {
				t.Errorf("%d oss UploadPart spans, want 3 (two parts and the last)", got["oss UploadPart"])
			}
			if !strings.Contains(logs.String(), `"trace_id":"`+srv.SpanContext.TraceID().String()+`"`) {
				t.Errorf("no log line with trace_id %s", srv.SpanContext.TraceID())
			}
		})
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
