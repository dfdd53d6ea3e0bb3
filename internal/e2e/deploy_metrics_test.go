package e2e

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metricRef matches a metric name in a PromQL expression or a dashboard.
var metricRef = regexp.MustCompile(`\b(?:vodgate|tusd)_[a-z0-9_]+\b`)

// TestDeployMetricsExported checks that every metric name the alert rules
// (deploy/prometheus/alerts.yaml) and the Grafana dashboard
// (deploy/grafana/vodgate.json) use is exported on a running gateway's
// /metrics, after an upload and a VOD-throttled creation gave the labelled
// metrics their first samples.
func TestDeployMetricsExported(t *testing.T) {
	s := newStack(t, stackOptions{})

	// One successful upload, and one creation VOD throttles (every attempt,
	// so the store answers ERR_VOD_THROTTLED and counts a store error).
	data := []byte(strings.Repeat("x", 1000))
	uploadURL, _ := createUpload(t, s.GW.Endpoint(), int64(len(data)), map[string]string{"filename": "m.mp4"})
	if r := patchUpload(t, uploadURL, 0, data); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	s.VOD.FailNext("*", 100, 400, "Throttling.User")
	r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
		"Upload-Length": "10", "Upload-Metadata": encodeMetadata(map[string]string{"filename": "t.mp4"})}, nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("throttled POST: %d %s, want 503", r.Status, r.Body)
	}

	types := exportedMetricTypes(t, s.GW)
	for _, file := range []string{"../../deploy/prometheus/alerts.yaml", "../../deploy/grafana/vodgate.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := metricRef.FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no metric", file)
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			if !exported(types, n) {
				t.Errorf("%s uses %s, which the gateway does not export", filepath.Base(file), n)
			}
		}
	}
}

// exported reports whether name is a metric family in types, or a
// histogram's or summary's _bucket, _count or _sum series.
func exported(types map[string]string, name string) bool {
	if _, ok := types[name]; ok {
		return true
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if typ := types[base]; typ == "histogram" || (typ == "summary" && suf != "_bucket") {
				return true
			}
		}
	}
	return false
}

// exportedMetricTypes returns the metric families g's /metrics exports
// (those with at least one sample), by name, with their type.
func exportedMetricTypes(t *testing.T, g *gatewayProc) map[string]string {
	t.Helper()
	resp, err := rawHTTP.Get(g.URL() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("/metrics exports no metric")
	}
	return out
}
