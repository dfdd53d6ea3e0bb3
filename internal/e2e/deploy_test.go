package e2e

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/osstest"
)

// TestAlertRulesUseExportedMetrics reads the metric names that
// deploy/prometheus/alerts.yaml uses and checks that the built gateway
// exports each one on /metrics, after traffic that makes every labelled
// family appear (an upload, and an OSS fault that is counted by code).
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_OSS_ATTEMPTS": "1"}})
	src := makeSource(t, 200<<10, 1901)
	u, _ := createUpload(t, s.GW.Endpoint(), src.Size, map[string]string{"filename": "m.mp4"})
	s.OSS.FailNext(osstest.OpPut, 1, http.StatusInternalServerError, "")
	patchUpload(t, u, 0, src.readRange(t, 0, src.Size)) // 503, counted by code
	if r := patchUpload(t, u, 0, src.readRange(t, 0, src.Size)); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH after the fault: %d %q", r.Status, r.Body)
	}

	resp, err := http.Get(s.GW.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE ([a-z_:]+) `).FindAllStringSubmatch(string(body), -1) {
		exported[m[1]] = true
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(?:vodgate|tusd)_[a-z_]+`).FindAllString(string(rules), -1) {
		used[m] = true
	}
	if len(used) == 0 {
		t.Fatal("no metric names found in the alert rules")
	}
	for name := range used {
		family := name
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
				family = base
			}
		}
		if !exported[family] {
			t.Errorf("alert rules use %s, which the gateway does not export", name)
		}
	}
}
