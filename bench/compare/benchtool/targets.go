package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vodgate/vodgate/bench/wan"
)

// modeLabel is the table's mode column: fresh or warm, and WAN when the
// case ran through the WAN link proxy.
func (a *agg) modeLabel() string {
	if a.net != "" {
		return a.mode + ", WAN"
	}
	return a.mode
}

// modeNote explains the modes that appear in the table.
func modeNote(aggs []*agg, m tableMeta) string {
	var warm bool
	var nets []string
	for _, a := range aggs {
		warm = warm || a.mode == modeWarm
		if a.net != "" && !slices.Contains(nets, a.net) {
			nets = append(nets, a.net)
		}
	}
	var b strings.Builder
	b.WriteString("\nModes: fresh = a new server process for the measured round. ")
	if warm {
		b.WriteString("warm = the same process first served one unmeasured round of the same case; CPU and the rates are of the measured round alone, and its peak RSS was reset (`/proc/PID/clear_refs`) after the warm-up, so it is the measured round's peak over what the process kept. ")
	}
	for _, n := range nets {
		fmt.Fprintf(&b, "WAN = the server reaches the sink only through the bench/wan link proxy (%s; per direction a token bucket and a delay of RTT/2, one RTT more per new connection); its CPU is in neither the server's nor the backend's column. ", strings.TrimPrefix(n, "WAN "))
	}
	if m.GatewayArgs != "" {
		fmt.Fprintf(&b, "Gateway arguments: `%s`. ", m.GatewayArgs)
	}
	if m.TusdArgs != "" {
		fmt.Fprintf(&b, "tusd arguments: `%s` (so tusd does not run with its defaults). ", m.TusdArgs)
	}
	b.WriteString("\n")
	return b.String()
}

// target is one "Done when" condition of issue 13 for one (case, mode).
type target struct {
	ok   bool
	text string
}

// issue13Targets returns the issue-13 conditions that apply to the
// gateway's figures gw in its case and mode, given the other servers'.
func issue13Targets(aggs []*agg, gw *agg, m tableMeta) []target {
	var out []target
	rate := func(srv string) (float64, bool) {
		a := lookup(aggs, gw.caseID, gw.mode, srv)
		if a == nil || len(a.rates) == 0 {
			return 0, false
		}
		return median(a.rates), true
	}
	if gw.failures > 0 || gw.errRuns > 0 {
		out = append(out, target{false, fmt.Sprintf("no failures (%d, %d runs broke)", gw.failures, gw.errRuns)})
	}
	g, ok := rate(srvGateway)
	if !ok {
		return out
	}
	vs := func(srv string, want float64) {
		if r, ok := rate(srv); ok && r > 0 {
			out = append(out, target{g >= want*r, fmt.Sprintf("≥ %.1f× %s (%.2f×)", want, srv, g/r)})
		}
	}
	ceiling := func(want float64) {
		c := lookup(aggs, "one-patch", modeFresh, srvCeilingPut)
		if c == nil || len(c.rates) == 0 {
			return
		}
		r := median(c.rates)
		out = append(out, target{g >= want*r, fmt.Sprintf("≥ %.0f%% of the PUT ceiling (%.0f%%)", 100*want, 100*g/r)})
	}
	rss := func() {
		p := maxOf(gw.rssKB) / 1024
		out = append(out, target{p < 128, fmt.Sprintf("peak RSS < 128 MiB (%.1f)", p)})
	}
	switch gw.caseID {
	case "one-patch":
		vs(srvTusdS3, 1.8)
		ceiling(0.7)
		rss()
	case "chunked":
		vs(srvTusdS3, 1.8)
		ceiling(0.6)
		rss()
	case "c50":
		vs(srvTusdS3, 1.3)
		vs(srvTusdFile, 0.9)
	case "c500":
		vs(srvTusdS3, 1.5)
		vs(srvTusdFile, 0.9)
	case "wan-one-patch":
		vs(srvTusdS3, 1.2)
		if m.WANBytesPerSec > 0 {
			want := 3 * float64(m.WANBytesPerSec) / (1 << 20)
			out = append(out, target{g >= want, fmt.Sprintf("≥ %.0f MiB/s, 3 connections' worth of %s (%.1f)", want, wan.FormatRate(m.WANBytesPerSec), g)})
		}
	case "wan-chunked":
		vs(srvTusdS3, 1.2)
	}
	if gw.caseID != "create" && len(gw.cpuPerUnit) > 0 {
		c := median(gw.cpuPerUnit)
		out = append(out, target{c <= 1.5, fmt.Sprintf("CPU ≤ 1.5 s/GiB (%.2f)", c)})
	}
	return out
}

// renderIssue13 prints the gateway's figures per case and mode with the
// ratios issue 13's "Done when" uses, and which of its targets are met.
func renderIssue13(aggs []*agg, m tableMeta) string {
	var b strings.Builder
	b.WriteString("\nGateway per case and mode (issue 13; medians of the same run):\n\n")
	b.WriteString("| case | mode | gateway MiB/s | tusd-s3 MiB/s | tusd-file MiB/s | gateway ÷ tusd-s3 | gateway ÷ tusd-file | % of PUT ceiling | gateway CPU s/GiB | gateway peak RSS MiB | targets (issue 13) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var all []target
	for _, gw := range aggs {
		if gw.server != srvGateway || gw.caseID == "create" {
			continue
		}
		cell := func(srv string) (string, float64) {
			a := lookup(aggs, gw.caseID, gw.mode, srv)
			if a == nil || len(a.rates) == 0 {
				return "—", 0
			}
			return fmt.Sprintf("%.1f", median(a.rates)), median(a.rates)
		}
		g, gr := cell(srvGateway)
		s3, s3r := cell(srvTusdS3)
		f, fr := cell(srvTusdFile)
		ratio := func(x float64) string {
			if gr == 0 || x == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", gr/x)
		}
		ceil := "—"
		if c := lookup(aggs, "one-patch", modeFresh, srvCeilingPut); c != nil && len(c.rates) > 0 && gr > 0 && gw.net == "" && (gw.caseID == "one-patch" || gw.caseID == "chunked") {
			ceil = fmt.Sprintf("%.0f%%", 100*gr/median(c.rates))
		}
		ts := issue13Targets(aggs, gw, m)
		all = append(all, ts...)
		var miss []string
		for _, t := range ts {
			if !t.ok {
				miss = append(miss, t.text)
			}
		}
		verdict := "—"
		switch {
		case len(ts) > 0 && len(miss) == 0:
			verdict = "met"
		case len(miss) > 0:
			verdict = "NOT met: " + strings.Join(miss, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.1f | %s |\n", gw.caseName, gw.modeLabel(), g, s3, f,
			ratio(s3r), ratio(fr), ceil, median(gw.cpuPerUnit), maxOf(gw.rssKB)/1024, verdict)
	}
	met := 0
	for _, t := range all {
		if t.ok {
			met++
		}
	}
	fmt.Fprintf(&b, "\nTargets (issue 13): %d of %d met. %% of PUT ceiling: of the fresh one-PATCH ceiling-put. ", met, len(all))
	b.WriteString("The targets hold for the full run on a quiet machine; a smoke run or a loaded machine says nothing about them.\n")
	return b.String()
}
