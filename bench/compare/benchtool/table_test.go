package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRenderTable(t *testing.T) {
	mk := func(c, srv string, rep int, rate float64, fail int, err string) row {
		r := row{Case: c + " name", CaseID: c, Server: srv, Rep: rep, Rate: rate, Failures: fail, Err: err, Bytes: 1 << 30}
		r.CPUSeconds, r.PeakRSSKB = 1, 40<<10
		return r
	}
	rows := []row{
		mk("one-patch", srvTusdS3, 1, 100, 0, ""), mk("one-patch", srvGateway, 1, 150, 0, ""),
		mk("one-patch", srvGateway, 2, 130, 0, ""), mk("one-patch", srvGateway, 3, 90, 0, ""),
		mk("one-patch", "gateway-x", 1, 200, 0, ""), mk("one-patch", srvTusdFile, 1, 100, 0, "broke"),
		mk("chunked", srvGateway, 1, 10, 2, ""),
	}
	md := renderTable(rows, tableMeta{Reps: 3, BudgetMiB: 512})
	for _, want := range []string{
		"| one-patch name | fresh | gateway | 130.0 (90.0–150.0) | — |",
		"| one-patch name | fresh | gateway-x | 200.0 (200.0–200.0) | 0.65× |",
		"| one-patch name | fresh | tusd-s3 | 100.0 (100.0–100.0) | 1.30× |",
		"| one-patch name | fresh | tusd-file | — | — |",
		"0 + 1/1 runs broke: broke",
		"- PASS: one-patch name: gateway 130.0 MiB/s ≥ 1.2 × tusd-s3 100.0 (1.30×)",
		"- FAIL: zero failures everywhere (failed: one-patch/tusd-file, chunked/gateway)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	// gateway-x sorts right after gateway.
	if i, j := strings.Index(md, "| gateway-x |"), strings.Index(md, "| tusd-s3 |"); i < 0 || i > j {
		t.Errorf("variant not right after the gateway:\n%s", md)
	}
}

func TestRenderTableModesAndIssue13(t *testing.T) {
	mk := func(c, mode, net, srv string, rate, cpu float64) row {
		r := row{Case: c + " name", CaseID: c, Mode: mode, Net: net, Server: srv, Rep: 1, Rate: rate, Bytes: 1 << 30}
		r.CPUSeconds, r.PeakRSSKB = cpu, 40<<10
		return r
	}
	const wanNet = "WAN RTT 30ms, 50 MiB/s per connection"
	rows := []row{
		mk("one-patch", "", "", srvGateway, 700, 1.2), mk("one-patch", "", "", srvTusdS3, 350, 3),
		mk("one-patch", "", "", srvCeilingPut, 900, 0.5),
		mk("c50", modeFresh, "", srvGateway, 200, 6), mk("c50", modeFresh, "", srvTusdS3, 300, 3), mk("c50", modeFresh, "", srvTusdFile, 500, 2),
		mk("c50", modeWarm, "", srvGateway, 450, 1.4), mk("c50", modeWarm, "", srvTusdS3, 300, 3), mk("c50", modeWarm, "", srvTusdFile, 480, 2),
		mk("wan-one-patch", modeFresh, wanNet, srvGateway, 160, 1.3), mk("wan-one-patch", modeFresh, wanNet, srvTusdS3, 45, 3),
		mk("wan-chunked", modeFresh, wanNet, srvGateway, 50, 1.3), mk("wan-chunked", modeFresh, wanNet, srvTusdS3, 45, 3),
		mk("c500", modeWarm, "", srvTusdS3, 100, 3),
	}
	broken := mk("c500", modeWarm, "", srvGateway, 0, 0)
	broken.Err = "warm-up round: 3 failures"
	rows = append(rows, broken)
	md := renderTable(rows, tableMeta{Reps: 1, BudgetMiB: 512, WANBytesPerSec: 50 << 20, GatewayArgs: "-oss-parallel-parts 4"})
	for _, want := range []string{
		// The main table: a mode column, ratios within a case and mode.
		"| c50 name | fresh | tusd-s3 | 300.0 (300.0–300.0) | 0.67× |",
		"| c50 name | warm | tusd-s3 | 300.0 (300.0–300.0) | 1.50× |",
		"| wan-one-patch name | fresh, WAN | tusd-s3 | 45.0 (45.0–45.0) | 3.56× |",
		// The issue-13 view.
		"| one-patch name | fresh | 700.0 | 350.0 | — | 2.00× | — | 78% | 1.20 | 40.0 | met |",
		"| c50 name | fresh | 200.0 | 300.0 | 500.0 | 0.67× | 0.40× | — | 6.00 | 40.0 | NOT met: ≥ 1.3× tusd-s3 (0.67×); ≥ 0.9× tusd-file (0.40×); CPU ≤ 1.5 s/GiB (6.00) |",
		"| c50 name | warm | 450.0 | 300.0 | 480.0 | 1.50× | 0.94× | — | 1.40 | 40.0 | met |",
		"| wan-one-patch name | fresh, WAN | 160.0 | 45.0 | — | 3.56× | — | — | 1.30 | 40.0 | met |",
		"| wan-chunked name | fresh, WAN | 50.0 | 45.0 | — | 1.11× | — | — | 1.30 | 40.0 | NOT met: ≥ 1.2× tusd-s3 (1.11×) |",
		"| c500 name | warm | — | 100.0 | — | — | — | — | 0.00 | 0.0 | NOT met: no failures (0, 1 runs broke) |",
		"Targets (issue 13): 11 of 16 met.",
		"Gateway arguments: `-oss-parallel-parts 4`.",
		"RTT 30ms, 50 MiB/s per connection;",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	// fresh before warm within a case.
	if i, j := strings.Index(md, "| c50 name | fresh | gateway |"), strings.Index(md, "| c50 name | warm | gateway |"); i < 0 || j < i {
		t.Errorf("warm not after fresh:\n%s", md)
	}
}

func TestTableCmdKeepsTheWANCap(t *testing.T) {
	var lines []string
	for _, r := range []row{
		{Case: "1 GiB in one PATCH", CaseID: "wan-one-patch", Mode: modeFresh, Net: "WAN RTT 30ms, 20 MiB/s per connection", WANCap: 20 << 20, Server: srvGateway, Rep: 1, Rate: 70, Bytes: 1 << 30},
		{Case: "1 GiB in one PATCH", CaseID: "wan-one-patch", Mode: modeFresh, Net: "WAN RTT 30ms, 20 MiB/s per connection", WANCap: 20 << 20, Server: srvTusdS3, Rep: 1, Rate: 50, Bytes: 1 << 30},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := tableCmd([]string{path}, &out, &errb); rc != 0 {
		t.Fatalf("tableCmd = %d: %s", rc, errb.String())
	}
	if want := "| 1 GiB in one PATCH | fresh, WAN | 70.0 | 50.0 | — | 1.40× | — | — | 0.00 | 0.0 | met |"; !strings.Contains(out.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, out.String())
	}
	// ≥ 1.2× tusd-s3, ≥ 3 × 20 MiB/s (known from the rows alone), CPU.
	if want := "Targets (issue 13): 3 of 3 met."; !strings.Contains(out.String(), want) {
		t.Errorf("the 3-connection target is missing:\n%s", out.String())
	}
}
