package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vodgate/vodgate/bench/wan"
)

// options are the flags of benchtool run.
type options struct {
	smoke        bool
	reps         int
	bigMiB       int
	chunkMiB     int
	servers      []string
	cases        []string
	budgetMiB    int
	createDur    time.Duration
	createConns  int
	sinkETag     string
	clientSource string // buffer or stream: how the client reads the big file
	vod          string // stub or sim
	sample       time.Duration
	work         string
	out, results string
	gatewayEnv   []string
	profileDir   string              // gateway profiles per case (gateway built with pprof.go.in)
	traceSecs    int                 // with profileDir: seconds of execution trace at the start of each case
	variants     map[string]string   // extra gateway builds: server name gateway-LABEL -> binary
	instances    int                 // gateway processes behind a round-robin balancer (1: none)
	gatewayArgs  []string            // extra command-line arguments of every gateway process
	variantArgs  map[string][]string // server gateway-LABEL -> its own extra arguments
	tusdArgs     []string            // extra command-line arguments of tusd (tusd-s3 and tusd-file)
	warm         []string            // case IDs that also run in warm mode
	wan          wan.Config          // the link of the WAN cases
	bin          bins
	stderr       io.Writer
}

type bins struct {
	gateway, tusd, sink, redis, node, wrk, drive, lua, self string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Server and case names, in table order.
const (
	srvGateway    = "gateway"
	srvTusdS3     = "tusd-s3"
	srvTusdFile   = "tusd-file"
	srvCeiling    = "ceiling"
	srvCeilingPut = "ceiling-put"
)

var allServers = []string{srvGateway, srvTusdS3, srvTusdFile, srvCeiling, srvCeilingPut}

// benchCase is one workload.
type benchCase struct {
	ID      string // flag name: one-patch, chunked, c50, c500, create, wan-one-patch, wan-chunked
	Name    string // table label
	File    bool   // upload the big file (else a shared random buffer of Size)
	Size    int64  // bytes per upload
	Uploads int
	Chunk   int64 // 0: one PATCH
	Create  bool  // wrk creation rate
	WAN     bool  // the servers reach the sink through the WAN link proxy (gateway and tusd-s3 only)
}

func (o *options) casesFor() []benchCase {
	mib := int64(1 << 20)
	big, chunk := int64(o.bigMiB)*mib, int64(o.chunkMiB)*mib
	c50n, c50s, c500n, c500s := 50, 8*mib, 500, mib
	if o.smoke {
		c50n, c50s, c500n, c500s = 5, 2*mib, 20, 256<<10
	}
	all := []benchCase{
		{ID: "one-patch", Name: fmt.Sprintf("%s in one PATCH", sizeName(big)), File: true, Size: big, Uploads: 1},
		{ID: "chunked", Name: fmt.Sprintf("%s in %s chunks", sizeName(big), sizeName(chunk)), File: true, Size: big, Uploads: 1, Chunk: chunk},
		{ID: "c50", Name: fmt.Sprintf("%d × %s concurrent", c50n, sizeName(c50s)), Size: c50s, Uploads: c50n},
		{ID: "c500", Name: fmt.Sprintf("%d × %s concurrent", c500n, sizeName(c500s)), Size: c500s, Uploads: c500n},
		{ID: "create", Name: fmt.Sprintf("creation, wrk %d conns %s", o.createConns, o.createDur), Create: true},
		{ID: "wan-one-patch", Name: fmt.Sprintf("%s in one PATCH", sizeName(big)), File: true, Size: big, Uploads: 1, WAN: true},
		{ID: "wan-chunked", Name: fmt.Sprintf("%s in %s chunks", sizeName(big), sizeName(chunk)), File: true, Size: big, Uploads: 1, Chunk: chunk, WAN: true},
	}
	var out []benchCase
	for _, c := range all {
		for _, id := range o.cases {
			if id == c.ID {
				out = append(out, c)
			}
		}
	}
	return out
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	o := &options{stderr: stderr}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.smoke, "smoke", false, "small sizes, one repetition (the CI variant); timings are meaningless")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every case and server")
	fs.IntVar(&o.bigMiB, "size-mib", 1024, "size of the single-upload cases")
	fs.IntVar(&o.chunkMiB, "chunk-mib", 8, "PATCH size of the chunked case")
	servers := fs.String("servers", strings.Join(allServers, ","), "servers to run")
	cases := fs.String("cases", "one-patch,chunked,c50,c500,create,wan-one-patch,wan-chunked", "cases to run (wan-*: the same uploads through the WAN link proxy, gateway and tusd-s3 only)")
	warm := fs.String("warm", "c50,c500", "cases that also run in warm mode (the same server process serves one unmeasured round first): a list of case IDs, all, or none (-smoke: c50 unless set)")
	fs.DurationVar(&o.wan.RTT, "wan-rtt", 30*time.Millisecond, "WAN cases: round-trip time between the servers and the sink (RTT/2 each way, one RTT more per new connection)")
	wanBW := fs.String("wan-bw", "50MiB", "WAN cases: bandwidth cap per connection and direction, per second (B, KB, MB, KiB, MiB, GiB); 0: none")
	gatewayArgs := fs.String("gateway-args", "", "extra command-line arguments for every gateway process, split at spaces (e.g. \"-oss-parallel-parts 4\")")
	tusdArgs := fs.String("tusd-args", "", "extra command-line arguments for tusd (tusd-s3 and tusd-file), split at spaces, after the bench's own (e.g. \"-s3-concurrent-part-uploads 1\")")
	var variantArgs listFlag
	fs.Var(&variantArgs, "gateway-variant-args", "LABEL=ARGS: run server gateway-LABEL with these extra arguments (split at spaces) after -gateway-args; its binary is the -gateway-variant of that LABEL, else -gateway (repeatable; an A/B test of a setting in one run)")
	fs.IntVar(&o.budgetMiB, "buffer-budget-mib", 512, "the gateway's buffer-budget (passed as VODGATE_BUFFER_BUDGET; the 500-upload check uses it)")
	fs.DurationVar(&o.createDur, "create-duration", 10*time.Second, "wrk duration of the creation case")
	fs.IntVar(&o.createConns, "create-conns", 16, "wrk connections of the creation case")
	fs.StringVar(&o.clientSource, "client-source", "buffer", "how the client reads the 1 GiB file: buffer (into memory before the clock starts; the client then costs least, so the server's speed shows) or stream (the fs.ReadStream tus-js-client re-reads in 64 KiB pieces through libuv's thread pool; on 2 cores the client's thread hand-offs then bound the one-PATCH rate)")
	fs.StringVar(&o.sinkETag, "sink-etag", "none", "ETag mode of the shared sink: none (no hashing, so the sink stays out of the way on a 2-core machine) or md5")
	fs.StringVar(&o.vod, "vod", "stub", "the gateway's VOD backend: stub (canned answers, checks nothing, like the sink) or sim (internal/vodtest with internal/osstest: verifies signatures, keeps media; costs more CPU than the gateway on a creation run)")
	fs.DurationVar(&o.sample, "sample", 50*time.Millisecond, "disk sampling interval")
	fs.StringVar(&o.work, "work", "", "scratch directory (required)")
	fs.StringVar(&o.out, "out", "", "also write the markdown table here")
	fs.StringVar(&o.results, "results", "", "results as JSON lines (default WORK/results.jsonl)")
	fs.Var((*listFlag)(&o.gatewayEnv), "gateway-env", "extra KEY=VALUE for the gateway (repeatable)")
	fs.StringVar(&o.profileDir, "gateway-profile", "", "directory: save CPU, allocation, mutex and block profiles of the gateway for every case (needs a gateway built with bench/compare/pprof.go.in; run.sh does that)")
	fs.IntVar(&o.traceSecs, "gateway-trace-seconds", 0, "with -gateway-profile: also take an execution trace of the first N seconds of every case (go tool trace)")
	fs.StringVar(&o.bin.gateway, "gateway", "", "gateway binary")
	fs.IntVar(&o.instances, "gateway-instances", 1, "gateway processes sharing the Redis behind a round-robin balancer in benchtool (CPU and peak RSS are summed over them); point them at a Redis Cluster or Sentinel with -gateway-env VODGATE_REDIS_URL=...")
	var variants listFlag
	fs.Var(&variants, "gateway-variant", "LABEL=BINARY: also run this gateway build as server gateway-LABEL (repeatable; add it to -servers), for A/B tests of a change in the same run")
	fs.StringVar(&o.bin.tusd, "tusd", "", "tusd v2.9.1 binary")
	fs.StringVar(&o.bin.sink, "sink", "", "bench/sink binary")
	fs.StringVar(&o.bin.redis, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.bin.node, "node", "node", "node binary")
	fs.StringVar(&o.bin.wrk, "wrk", "wrk", "wrk binary")
	fs.StringVar(&o.bin.drive, "drive", "", "bench/compare/drive.mjs")
	fs.StringVar(&o.bin.lua, "lua", "", "bench/compare/create.lua")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.servers = strings.Split(*servers, ",")
	o.variants = map[string]string{}
	for _, v := range variants {
		label, bin, ok := strings.Cut(v, "=")
		if !ok || label == "" || bin == "" {
			fmt.Fprintf(stderr, "benchtool run: -gateway-variant %q: want LABEL=BINARY\n", v)
			return 2
		}
		o.variants[srvGateway+"-"+label] = bin
		if !slices.Contains(o.servers, srvGateway+"-"+label) {
			o.servers = append(o.servers, srvGateway+"-"+label)
		}
	}
	o.cases = strings.Split(*cases, ",")
	warmSet := false
	fs.Visit(func(f *flag.Flag) { warmSet = warmSet || f.Name == "warm" })
	if o.smoke && !warmSet {
		*warm = "c50" // one warm case keeps the smoke run short
	}
	switch *warm {
	case "all":
		o.warm = o.cases
	case "none", "":
	default:
		o.warm = strings.Split(*warm, ",")
	}
	var err error
	if o.wan.BytesPerSec, err = wan.ParseRate(*wanBW); err != nil {
		fmt.Fprintf(stderr, "benchtool run: -wan-bw: %v\n", err)
		return 2
	}
	o.gatewayArgs, o.tusdArgs = strings.Fields(*gatewayArgs), strings.Fields(*tusdArgs)
	o.variantArgs = map[string][]string{}
	for _, v := range variantArgs {
		label, a, ok := strings.Cut(v, "=")
		if !ok || label == "" {
			fmt.Fprintf(stderr, "benchtool run: -gateway-variant-args %q: want LABEL=ARGS\n", v)
			return 2
		}
		srv := srvGateway + "-" + label
		o.variantArgs[srv] = strings.Fields(a)
		if _, ok := o.variants[srv]; !ok {
			o.variants[srv] = o.bin.gateway
		}
		if !slices.Contains(o.servers, srv) {
			o.servers = append(o.servers, srv)
		}
	}
	if o.smoke {
		o.reps, o.bigMiB, o.chunkMiB = 1, 12, 6
		if o.createDur == 10*time.Second {
			o.createDur = 2 * time.Second
		}
		if o.createConns == 16 {
			o.createConns = 4
		}
	}
	if o.work == "" || o.bin.gateway == "" || o.bin.tusd == "" || o.bin.sink == "" || o.bin.drive == "" || o.bin.lua == "" {
		fmt.Fprintln(stderr, "benchtool run: -work, -gateway, -tusd, -sink, -drive and -lua are required")
		return 2
	}
	if o.clientSource != "buffer" && o.clientSource != "stream" {
		fmt.Fprintln(stderr, "benchtool run: -client-source must be buffer or stream")
		return 2
	}
	if o.vod != "stub" && o.vod != "sim" {
		fmt.Fprintln(stderr, "benchtool run: -vod must be stub or sim")
		return 2
	}
	if o.results == "" {
		o.results = filepath.Join(o.work, "results.jsonl")
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	o.bin.self = self
	rows, err := o.run()
	if err != nil {
		fmt.Fprintf(stderr, "benchtool: %v\n", err)
		return 1
	}
	md := renderTable(rows, o.meta())
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	for _, r := range rows {
		if !r.OK {
			return 3 // the table is printed, but something failed
		}
	}
	return 0
}

func (o *options) meta() tableMeta {
	return tableMeta{Reps: o.reps, BudgetMiB: o.budgetMiB, SinkETag: o.sinkETag, VOD: o.vod, ClientSource: o.clientSource, Smoke: o.smoke,
		WANBytesPerSec: o.wan.BytesPerSec, GatewayArgs: strings.Join(o.gatewayArgs, " "), TusdArgs: strings.Join(o.tusdArgs, " ")}
}

// run starts the shared backend, then runs every case against every
// server, o.reps times, servers interleaved within a repetition.
func (o *options) run() ([]row, error) {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return nil, err
	}
	resf, err := os.Create(o.results)
	if err != nil {
		return nil, err
	}
	defer resf.Close()

	env, err := o.startBackend()
	if err != nil {
		return nil, err
	}
	defer env.close()

	cases := o.casesFor()
	for _, c := range cases {
		if c.File {
			if err := o.makeFile(c.Size); err != nil {
				return nil, err
			}
			break
		}
	}
	var rows []row
	for rep := 1; rep <= o.reps; rep++ {
		for _, c := range cases {
			for _, mode := range o.modesFor(c) {
				for _, srv := range o.serversFor(c, mode) {
					r := o.runOne(env, c, mode, srv, rep)
					rows = append(rows, r)
					b, _ := json.Marshal(r)
					resf.Write(append(b, '\n'))
					fmt.Fprintf(o.stderr, "rep %d/%d | %-28s | %-5s%-4s | %-11s | %s\n", rep, o.reps, c.Name, mode, map[bool]string{true: " WAN"}[c.WAN], srv, r.summary())
				}
			}
		}
	}
	return rows, nil
}

func (o *options) bigFile() string { return filepath.Join(o.work, "source.bin") }

// makeFile writes size pseudo-random bytes (incompressible) once.
func (o *options) makeFile(size int64) error {
	if st, err := os.Stat(o.bigFile()); err == nil && st.Size() == size {
		return nil
	}
	f, err := os.Create(o.bigFile())
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{'v', 'o', 'd', 'g', 'a', 't', 'e'})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

// runOne starts a fresh server, runs the case once (in warm mode: twice,
// measuring the second round) and stops it.
func (o *options) runOne(env *backend, c benchCase, mode, srv string, rep int) (r row) {
	r = row{Case: c.Name, CaseID: c.ID, Mode: mode, Server: srv, Rep: rep, Uploads: c.Uploads}
	if c.WAN {
		r.Net, r.WANCap = "WAN "+o.wan.String(), o.wan.BytesPerSec
	}
	dir, err := os.MkdirTemp(o.work, fmt.Sprintf("%s-%s-%s-%d-", c.ID, mode, srv, rep))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer os.RemoveAll(dir)
	logs := filepath.Join(o.work, "logs")
	os.MkdirAll(logs, 0o755)
	s, err := o.startServer(env, srv, dir, filepath.Join(logs, fmt.Sprintf("%s-%s-%s-%d.log", c.ID, mode, srv, rep)), c.WAN)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer s.stop()
	if mode == modeWarm {
		if err := o.warmUp(env, s, c, srv); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	w, err := startWatch(s.pids(), s.dirs, s.backend, o.sample)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	sink0 := sinkStats(env.sinkURL)
	var wan0 map[string]int64
	if c.WAN {
		wan0 = counters(env.wanStats)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout(c))
	defer cancel()
	var prof *profiler
	if s.pprof != "" {
		prof = &profiler{base: s.pprof, dir: o.profileDir, name: fmt.Sprintf("%s-rep%d", c.ID, rep), trace: o.traceSecs}
		if err := prof.startCPU(); err != nil {
			fmt.Fprintf(o.stderr, "profile: %v\n", err)
			prof = nil
		}
	}
	if c.Create {
		err = o.driveCreate(ctx, s, c, &r)
	} else {
		err = o.driveUploads(ctx, s, c, srv, &r)
	}
	r.watchResult = w.stop()
	if sink1 := sinkStats(env.sinkURL); sink0 != nil && sink1 != nil {
		r.SinkRequests, r.SinkConns = sink1["requests"]-sink0["requests"], sink1["connections"]-sink0["connections"]
	}
	if wan1 := counters(env.wanStats); wan0 != nil && wan1 != nil {
		r.WANConns, r.WANBytesUp, r.WANBytesDown = wan1["connections"]-wan0["connections"], wan1["bytesUp"]-wan0["bytesUp"], wan1["bytesDown"]-wan0["bytesDown"]
	}
	if prof != nil {
		if err := prof.stop(); err != nil {
			fmt.Fprintf(o.stderr, "profile: %v\n", err)
		}
		if err := saveURL(s.metrics, filepath.Join(o.profileDir, prof.name+".metrics.txt")); err != nil {
			fmt.Fprintf(o.stderr, "metrics: %v\n", err)
		}
	}
	if err != nil {
		r.Err = err.Error()
	}
	if !r.ServerAliveEnd && r.Err == "" {
		r.Err = fmt.Sprintf("%s exited during the case: %v\n%s", srv, s.p.err, s.p.tail(20))
	}
	r.OK = r.Err == "" && r.Failures == 0
	if !r.OK && r.Err != "" {
		r.LogTail = s.p.tail(15)
	}
	return r
}

func (o *options) timeout(c benchCase) time.Duration {
	if c.Create {
		return o.createDur + 60*time.Second
	}
	total := c.Size * int64(c.Uploads)
	return 120*time.Second + time.Duration(total/(4<<20))*time.Second // at least 4 MiB/s
}

// sinkStats returns the shared sink's counters, or nil.
func sinkStats(base string) map[string]int64 { return counters(base + "/_stats") }

// counters returns the JSON object of numbers at url, or nil.
func counters(url string) map[string]int64 {
	if url == "" {
		return nil
	}
	res, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var m map[string]int64
	if json.NewDecoder(res.Body).Decode(&m) != nil {
		return nil
	}
	return m
}
