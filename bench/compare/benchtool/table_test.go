package main

import (
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
		"| one-patch name | gateway | 130.0 (90.0–150.0) | — |",
		"| one-patch name | gateway-x | 200.0 (200.0–200.0) | 0.65× |",
		"| one-patch name | tusd-s3 | 100.0 (100.0–100.0) | 1.30× |",
		"| one-patch name | tusd-file | — | — |",
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
