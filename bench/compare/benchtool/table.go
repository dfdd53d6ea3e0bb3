package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
)

type tableMeta struct {
	Reps      int
	BudgetMiB int
	SinkETag  string
	VOD       string
	Smoke     bool
	// ClientSource is how the client read the 1 GiB file (buffer or
	// stream); empty when unknown (a re-rendered results file).
	ClientSource string
	// WANBytesPerSec is the WAN cases' cap per connection (0: none or
	// unknown); GatewayArgs the gateway's extra arguments.
	WANBytesPerSec int64
	GatewayArgs    string
	TusdArgs       string
}

// tableCmd re-renders the table from a results file.
func tableCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: benchtool table RESULTS.jsonl")
		return 2
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	reps := 0
	var wanCap int64
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		reps, wanCap = max(reps, r.Rep), max(wanCap, r.WANCap)
		rows = append(rows, r)
	}
	fmt.Fprint(stdout, renderTable(rows, tableMeta{Reps: reps, BudgetMiB: 512, SinkETag: "?", WANBytesPerSec: wanCap}))
	return 0
}

// agg is the figures of one (case, mode, server) over its repetitions.
type agg struct {
	caseID, caseName, server string
	mode, net                string // fresh or warm; the WAN link or empty
	rates                    []float64
	rssKB, diskBytes         []float64
	cpuPerUnit, backendPer   []float64
	clientPer                []float64
	p50, p99                 []float64
	failures, errRuns, runs  int
	firstErr                 string
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

func aggregate(rows []row) []*agg {
	var out []*agg
	find := func(r row) *agg {
		for _, a := range out {
			if a.caseID == r.CaseID && a.mode == r.Mode && a.server == r.Server {
				return a
			}
		}
		a := &agg{caseID: r.CaseID, caseName: r.Case, server: r.Server, mode: r.Mode, net: r.Net}
		out = append(out, a)
		return a
	}
	for _, r := range rows {
		if r.Mode == "" {
			r.Mode = modeFresh
		}
		a := find(r)
		a.runs++
		a.failures += r.Failures
		if r.Err != "" {
			a.errRuns++
			if a.firstErr == "" {
				a.firstErr = firstLine(r.Err)
			}
			continue
		}
		if a.firstErr == "" && len(r.Errors) > 0 {
			a.firstErr = firstLine(r.Errors[0])
		}
		a.rates = append(a.rates, r.Rate)
		a.rssKB = append(a.rssKB, float64(r.PeakRSSKB))
		a.diskBytes = append(a.diskBytes, float64(r.PeakDiskBytes))
		if r.CaseID == "create" {
			if r.Requests > 0 {
				a.cpuPerUnit = append(a.cpuPerUnit, r.CPUSeconds*1000/float64(r.Requests))
				a.backendPer = append(a.backendPer, r.BackendCPU*1000/float64(r.Requests))
			}
		} else if r.Bytes > 0 {
			gib := float64(r.Bytes) / (1 << 30)
			a.cpuPerUnit = append(a.cpuPerUnit, r.CPUSeconds/gib)
			a.backendPer = append(a.backendPer, r.BackendCPU/gib)
			a.clientPer = append(a.clientPer, r.ClientCPU/gib)
		}
		a.p50 = append(a.p50, r.P50Ms)
		a.p99 = append(a.p99, r.P99Ms)
	}
	// Order: cases as they first appear, servers in allServers order.
	caseOrder := []string{}
	for _, r := range rows {
		if !slices.Contains(caseOrder, r.CaseID) {
			caseOrder = append(caseOrder, r.CaseID)
		}
	}
	slices.SortStableFunc(out, func(x, y *agg) int {
		if d := slices.Index(caseOrder, x.caseID) - slices.Index(caseOrder, y.caseID); d != 0 {
			return d
		}
		if x.mode != y.mode {
			return strings.Compare(x.mode, y.mode) // fresh before warm
		}
		return serverOrder(x.server) - serverOrder(y.server)
	})
	return out
}

// lookup finds the figures of (caseID, mode, server), or nil.
func lookup(aggs []*agg, caseID, mode, server string) *agg {
	for _, a := range aggs {
		if a.caseID == caseID && a.mode == mode && a.server == server {
			return a
		}
	}
	return nil
}

func renderTable(rows []row, m tableMeta) string {
	aggs := aggregate(rows)
	var b strings.Builder
	fmt.Fprintf(&b, "| case | mode | server | MiB/s (creation: req/s), median (min–max) | gateway ÷ server | peak RSS MiB | peak temp disk MiB | CPU s/GiB (creation: ms/req) | backend CPU s/GiB | client CPU s/GiB | PATCH p50 ms | PATCH p99 ms | failures |\n")
	fmt.Fprintf(&b, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range aggs {
		rate := "—"
		if len(a.rates) > 0 {
			rate = fmt.Sprintf("%.1f (%.1f–%.1f)", median(a.rates), minOf(a.rates), maxOf(a.rates))
		}
		ratio := "—"
		if gw := lookup(aggs, a.caseID, a.mode, srvGateway); a.server != srvGateway && gw != nil && len(gw.rates) > 0 && median(a.rates) > 0 {
			ratio = fmt.Sprintf("%.2f×", median(gw.rates)/median(a.rates))
		}
		fails := fmt.Sprintf("%d", a.failures)
		if a.errRuns > 0 {
			fails += fmt.Sprintf(" + %d/%d runs broke", a.errRuns, a.runs)
		}
		if (a.failures > 0 || a.errRuns > 0) && a.firstErr != "" {
			fails += ": " + strings.ReplaceAll(a.firstErr, "|", "/")
		}
		client := "—" // wrk's CPU is not measured
		if len(a.clientPer) > 0 {
			client = fmt.Sprintf("%.2f", median(a.clientPer))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1f | %.1f | %.2f | %.2f | %s | %.1f | %.1f | %s |\n",
			a.caseName, a.modeLabel(), a.server, rate, ratio, median(a.rssKB)/1024, maxOf(a.diskBytes)/(1<<20),
			median(a.cpuPerUnit), median(a.backendPer), client, median(a.p50), median(a.p99), fails)
	}
	fmt.Fprintf(&b, "\nMedians of %d repetition(s); peak temp disk is the largest sample over them. ", m.Reps)
	b.WriteString("Servers: gateway (OSS traffic to the sink; a VOD backend and a redis-server); gateway-LABEL: other gateway builds (-gateway-variant); ")
	b.WriteString("tusd-s3 / tusd-file: tusd v2.9.1 with default settings; ceiling: tus-js-client against a tus endpoint that discards the bytes; ")
	b.WriteString("ceiling-put: one plain Node PUT into a discarding endpoint. ")
	fmt.Fprintf(&b, "Shared sink ETag mode: %s; the gateway's VOD backend: %s. Peak RSS is VmHWM of the server process alone; backend CPU is the sink's (plus, for the gateway, redis-server's and the VOD backend's); client CPU is the Node client's (tus-js-client or the plain PUT), which shares the cores with the server. ", m.SinkETag, m.VOD)
	b.WriteString("Disk for tusd-file includes its upload directory (its storage). Creation latencies are of POST. ")
	switch m.ClientSource {
	case "buffer":
		b.WriteString("The 1 GiB cases send the file from memory (read before the clock starts), as the concurrent cases send a shared random buffer.\n")
	case "stream":
		b.WriteString("The 1 GiB cases send an fs.ReadStream of the file, which tus-js-client reads in 64 KiB pieces through libuv's thread pool while it sends.\n")
	default:
		b.WriteString("\n")
	}
	b.WriteString(modeNote(aggs, m))
	if m.Smoke {
		b.WriteString("\nSMOKE RUN: tiny sizes, one repetition; the numbers say nothing about performance.\n")
	}
	b.WriteString(renderChecks(aggs, m))
	b.WriteString(renderIssue13(aggs, m))
	fmt.Fprintf(&b, "\n%d CPUs, %s/%s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// renderChecks evaluates the targets of issue 7 on the medians.
func renderChecks(aggs []*agg, m tableMeta) string {
	var b strings.Builder
	b.WriteString("\nTargets (issue 7):\n")
	check := func(ok bool, format string, args ...any) {
		mark := "PASS"
		if !ok {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, fmt.Sprintf(format, args...))
	}
	rate := func(caseID, srv string) (float64, bool) {
		a := lookup(aggs, caseID, modeFresh, srv)
		if a == nil || len(a.rates) == 0 {
			return 0, false
		}
		return median(a.rates), true
	}
	for _, c := range []string{"one-patch", "chunked"} {
		gw, ok := rate(c, srvGateway)
		if !ok {
			continue
		}
		name := lookup(aggs, c, modeFresh, srvGateway).caseName
		if s3, ok := rate(c, srvTusdS3); ok {
			check(gw >= 1.2*s3, "%s: gateway %.1f MiB/s ≥ 1.2 × tusd-s3 %.1f (%.2f×)", name, gw, s3, gw/s3)
		}
		if f, ok := rate(c, srvTusdFile); ok {
			check(gw >= f, "%s: gateway %.1f MiB/s ≥ tusd-file %.1f (%.2f×)", name, gw, f, gw/f)
		}
		ceil, ok := rate("one-patch", srvCeilingPut)
		label := "plain-PUT ceiling"
		if !ok {
			ceil, ok = rate(c, srvCeiling)
			label = "tus ceiling"
		}
		if ok {
			check(gw >= 0.5*ceil, "%s: gateway %.1f MiB/s ≥ 50%% of the %s %.1f (%.0f%%)", name, gw, label, ceil, 100*gw/ceil)
		}
		a := lookup(aggs, c, modeFresh, srvGateway)
		check(maxOf(a.rssKB)/1024 < 128, "%s: gateway peak RSS %.1f MiB < 128 MiB", name, maxOf(a.rssKB)/1024)
	}
	var disk float64
	for _, a := range aggs {
		if a.server == srvGateway {
			disk = max(disk, maxOf(a.diskBytes))
		}
	}
	check(disk == 0, "gateway temp disk: %.0f bytes at most (want none)", disk)
	if a := lookup(aggs, "c500", modeFresh, srvGateway); a != nil {
		lim := float64(m.BudgetMiB + 64)
		check(a.failures == 0 && a.errRuns == 0 && maxOf(a.rssKB)/1024 <= lim,
			"%s: gateway failures %d, peak RSS %.1f MiB ≤ buffer budget %d MiB + 64", a.caseName, a.failures+a.errRuns, maxOf(a.rssKB)/1024, m.BudgetMiB)
	}
	if gw, ok := rate("create", srvGateway); ok {
		if s3, ok := rate("create", srvTusdS3); ok {
			check(gw >= s3, "creation: gateway %.0f req/s ≥ tusd-s3 %.0f (%.2f×)", gw, s3, gw/s3)
		}
	}
	var bad []string
	for _, a := range aggs {
		if a.failures > 0 || a.errRuns > 0 {
			id := a.caseID
			if a.mode != modeFresh {
				id += "/" + a.mode
			}
			bad = append(bad, id+"/"+a.server)
		}
	}
	check(len(bad) == 0, "zero failures everywhere%s", map[bool]string{true: "", false: " (failed: " + strings.Join(bad, ", ") + ")"}[len(bad) == 0])
	return b.String()
}

// serverOrder sorts gateway variants right after the gateway.
func serverOrder(s string) int {
	if i := slices.Index(allServers, s); i >= 0 {
		return 2 * i
	}
	if strings.HasPrefix(s, srvGateway+"-") {
		return 1
	}
	return 2 * len(allServers)
}
