package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vodgate/vodgate/internal/testenv"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it decodes every
// POST /v1/traces and keeps the spans with their service name.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service map[string]bool
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				o.service[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// inTrace returns the names of the spans of trace id (hex), by span ID.
func (o *otlpReceiver) inTrace(id string) map[string]*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for _, s := range o.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out[hex.EncodeToString(s.SpanId)] = s
		}
	}
	return out
}

// TestTracingOTLP runs the built gateway (-dev) with only the standard
// OTEL_EXPORTER_OTLP_ENDPOINT set, pointed at an in-process OTLP receiver,
// uploads a file with a client traceparent on each request, and checks
// that the exported trace continues the client's, holds the tus request
// spans and their children (VOD, lock, OSS, Redis), names the service from
// OTEL_SERVICE_NAME, and that the gateway's log lines carry the trace ID.
func TestTracingOTLP(t *testing.T) {
	bin := testenv.GatewayBin(t)
	recv := &otlpReceiver{service: map[string]bool{}}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	g := newGatewayProc(t, "gateway-traced", bin, map[string]string{
		"VODGATE_DEV": "true", "VODGATE_DEV_DATA_DIR": t.TempDir(), "VODGATE_PART_SIZE": "100KiB",
		"VODGATE_DEV_OSS_LISTEN": freeAddr(t), "VODGATE_DEV_VOD_LISTEN": freeAddr(t), "VODGATE_DEV_REDIS_LISTEN": freeAddr(t),
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_SERVICE_NAME": "vodgate-e2e",
	})

	const traceID = "5b8efff798038103d269b633813fc60c"
	parents := map[string]string{"POST": "eee19b7ec3c1b173", "PATCH": "eee19b7ec3c1b174"}
	do := func(method, target string, h map[string]string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Traceparent", "00-"+traceID+"-"+parents[method]+"-01")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	data := bytes.Repeat([]byte("vodgate-tracing!"), 16<<10) // 256 KiB: two parts and the last
	res := do("POST", g.Endpoint(), map[string]string{"Upload-Length": strconv.Itoa(len(data)),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("traced.mp4"))}, nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d", res.StatusCode)
	}
	res = do("PATCH", res.Header.Get("Location"), map[string]string{"Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream"}, data)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Vod-Media-Id") == "" {
		t.Fatalf("PATCH: %d", res.StatusCode)
	}
	mediaID := res.Header.Get("Vod-Media-Id")

	want := []string{"tus POST", "vod CreateUploadVideo", "tus PATCH", "lock acquire", "oss UploadPart",
		"oss CompleteMultipartUpload", "redis EVALSHA"}
	var spans map[string]*tracepb.Span
	deadline := time.Now().Add(15 * time.Second)
	for {
		spans = recv.inTrace(traceID)
		names := map[string]bool{}
		for _, s := range spans {
			names[s.Name] = true
		}
		missing := ""
		for _, n := range want {
			if !names[n] {
				missing = n
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q span exported in the client's trace within 15s; got %v", missing, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range spans {
		switch s.Name {
		case "tus POST", "tus PATCH":
			method := strings.TrimPrefix(s.Name, "tus ")
			if got := hex.EncodeToString(s.ParentSpanId); got != parents[method] || s.Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("%s: parent %s kind %v, want the client's span %s", s.Name, got, s.Kind, parents[method])
			}
			attrs := map[string]string{}
			for _, kv := range s.Attributes {
				attrs[kv.Key] = kv.GetValue().GetStringValue()
			}
			if attrs["tus.method"] != method || attrs["tus.upload_id"] == "" || attrs["vod.media_id"] != mediaID {
				t.Errorf("%s attributes %v", s.Name, attrs)
			}
		default: // a child: its parent chain reaches a tus span of this trace
			p := spans[hex.EncodeToString(s.ParentSpanId)]
			for p != nil && !strings.HasPrefix(p.Name, "tus ") {
				p = spans[hex.EncodeToString(p.ParentSpanId)]
			}
			if p == nil {
				t.Errorf("span %s is not below a tus request span", s.Name)
			}
		}
	}
	recv.mu.Lock()
	if !recv.service["vodgate-e2e"] {
		t.Errorf("service names %v, want vodgate-e2e from OTEL_SERVICE_NAME", recv.service)
	}
	recv.mu.Unlock()
	if !strings.Contains(g.log.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("no gateway log line carries trace_id %s", traceID)
	}
}
