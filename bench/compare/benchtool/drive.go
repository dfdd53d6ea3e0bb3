package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// row is one run of one case against one server.
type row struct {
	Case     string   `json:"case"`
	CaseID   string   `json:"caseId"`
	Mode     string   `json:"mode,omitempty"` // fresh or warm (empty in older results: fresh)
	Net      string   `json:"net,omitempty"`  // the WAN link, e.g. "WAN RTT 30ms, 50 MiB/s per connection"; empty: loopback
	Server   string   `json:"server"`
	Rep      int      `json:"rep"`
	OK       bool     `json:"ok"`
	Err      string   `json:"error,omitempty"`
	LogTail  string   `json:"logTail,omitempty"`
	Uploads  int      `json:"uploads,omitempty"`
	Failures int      `json:"failures"`
	Bytes    int64    `json:"bytes"`
	Requests int64    `json:"requests,omitempty"` // creation case
	Seconds  float64  `json:"seconds"`
	Rate     float64  `json:"rate"` // MiB/s, or creations/s
	P50Ms    float64  `json:"p50Ms"`
	P99Ms    float64  `json:"p99Ms"`
	Errors   []string `json:"errors,omitempty"`
	// Requests to the shared sink and new connections to it during the run
	// (connection reuse; the sink's own /_tus/ ceiling servers are separate).
	SinkRequests int64 `json:"sinkRequests"`
	SinkConns    int64 `json:"sinkConns"`
	// Through the WAN link proxy (WAN cases): new connections, and bytes
	// delivered to the sink (up) and from it (down).
	WANConns     int64 `json:"wanConns,omitempty"`
	WANBytesUp   int64 `json:"wanBytesUp,omitempty"`
	WANBytesDown int64 `json:"wanBytesDown,omitempty"`
	// WANCap is the link's cap per connection in bytes/s (WAN cases; 0: none).
	WANCap int64 `json:"wanBytesPerSec,omitempty"`
	// ClientCPU is the Node client's CPU seconds (user+system) while it
	// uploads, which competes with the server for the same cores.
	ClientCPU float64 `json:"clientCpuSeconds,omitempty"`
	watchResult
}

func (r row) summary() string {
	if r.Err != "" {
		return "ERROR " + firstLine(r.Err)
	}
	unit := "MiB/s"
	if r.CaseID == "create" {
		unit = "req/s"
	}
	s := fmt.Sprintf("%8.1f %s, RSS %5.1f MiB, disk %6.1f MiB, CPU %.2fs, p50 %.1f ms, p99 %.1f ms, failures %d",
		r.Rate, unit, float64(r.PeakRSSKB)/1024, float64(r.PeakDiskBytes)/(1<<20), r.CPUSeconds, r.P50Ms, r.P99Ms, r.Failures)
	if len(r.Errors) > 0 {
		s += " (" + firstLine(r.Errors[0]) + ")"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// driveResult is drive.mjs's output line.
type driveResult struct {
	OK       bool     `json:"ok"`
	Uploads  int      `json:"uploads"`
	Failures int      `json:"failures"`
	Bytes    int64    `json:"bytes"`
	MS       float64  `json:"ms"`
	Patches  int      `json:"patches"`
	P50Ms    float64  `json:"p50Ms"`
	P99Ms    float64  `json:"p99Ms"`
	CPUMs    float64  `json:"cpuMs"`
	Errors   []string `json:"errors"`
}

func (o *options) driveUploads(ctx context.Context, s *server, c benchCase, srv string, r *row) error {
	opt := map[string]any{"endpoint": s.endpoint, "uploads": c.Uploads,
		"timeoutMs": int64(o.timeout(c) / time.Millisecond)}
	if c.File {
		opt["file"], opt["source"] = o.bigFile(), o.clientSource
	} else {
		opt["size"] = c.Size
	}
	if c.Chunk > 0 {
		opt["chunkSize"] = c.Chunk
	}
	if srv == srvCeilingPut {
		opt["mode"], opt["url"] = "put", s.putURL
	}
	js, _ := json.Marshal(opt)
	cmd := exec.CommandContext(ctx, o.bin.node, o.bin.drive, string(js))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	if ps := cmd.ProcessState; ps != nil {
		r.ClientCPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	line := lastJSONLine(out.String())
	if line == "" {
		return fmt.Errorf("drive.mjs: %v: %s", runErr, firstLine(errb.String()+out.String()))
	}
	var d driveResult
	if err := json.Unmarshal([]byte(line), &d); err != nil {
		return fmt.Errorf("drive.mjs output %q: %w", line, err)
	}
	r.Failures, r.Bytes, r.Seconds, r.P50Ms, r.P99Ms, r.Errors = d.Failures, d.Bytes, d.MS/1000, d.P50Ms, d.P99Ms, d.Errors
	if d.CPUMs > 0 { // the timed span only, without reading the file or making the buffer
		r.ClientCPU = d.CPUMs / 1000
	}
	if want := c.Size * int64(c.Uploads); d.Failures == 0 && d.Bytes != want {
		return fmt.Errorf("drive.mjs: %d bytes acknowledged, want %d", d.Bytes, want)
	}
	if r.Seconds > 0 {
		r.Rate = float64(r.Bytes) / (1 << 20) / r.Seconds
	}
	return nil
}

func lastJSONLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			return l
		}
	}
	return ""
}

// wrkResult is create.lua's RESULT line.
type wrkResult struct {
	Requests      int64 `json:"requests"`
	DurationUs    int64 `json:"durationUs"`
	ConnectErrors int   `json:"connectErrors"`
	ReadErrors    int   `json:"readErrors"`
	WriteErrors   int   `json:"writeErrors"`
	StatusErrors  int   `json:"statusErrors"`
	Timeouts      int   `json:"timeouts"`
	P50Us         int64 `json:"p50Us"`
	P99Us         int64 `json:"p99Us"`
}

func (o *options) driveCreate(ctx context.Context, s *server, c benchCase, r *row) error {
	threads := 2
	if o.createConns < threads {
		threads = o.createConns
	}
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(o.createConns),
		"-d", fmt.Sprintf("%ds", int(o.createDur.Seconds())), "--timeout", "10s", "-s", o.bin.lua, s.endpoint}
	cmd := exec.CommandContext(ctx, o.bin.wrk, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "RESULT "); ok {
			line = v
		}
	}
	if line == "" {
		return fmt.Errorf("wrk: %v: %s", runErr, firstLine(errb.String()+out.String()))
	}
	var w wrkResult
	if err := json.Unmarshal([]byte(line), &w); err != nil {
		return fmt.Errorf("wrk output %q: %w", line, err)
	}
	r.Requests = w.Requests
	r.Seconds = float64(w.DurationUs) / 1e6
	r.Failures = w.ConnectErrors + w.ReadErrors + w.WriteErrors + w.StatusErrors + w.Timeouts
	if r.Failures > 0 {
		r.Errors = []string{fmt.Sprintf("wrk: connect %d, read %d, write %d, non-2xx %d, timeouts %d",
			w.ConnectErrors, w.ReadErrors, w.WriteErrors, w.StatusErrors, w.Timeouts)}
	}
	r.P50Ms, r.P99Ms = float64(w.P50Us)/1000, float64(w.P99Us)/1000
	if r.Seconds > 0 {
		r.Rate = float64(w.Requests-int64(w.StatusErrors)) / r.Seconds
	}
	return nil
}
