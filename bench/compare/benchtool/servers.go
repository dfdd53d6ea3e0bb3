package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// backend is what stays up for the whole run: the shared sink, and for
// the gateway a redis-server and the VOD simulator.
type backend struct {
	dir      string
	sink     *proc
	sinkURL  string
	redis    *proc
	redisURL string
	vodsim   *proc
	vodAddr  string
	wan      *proc  // the WAN link proxy in front of the sink (WAN cases only)
	wanURL   string // its base URL: the sink as the WAN cases see it
	wanStats string // the URL of its counters (bench/wan.Stats as JSON)
}

func (b *backend) close() {
	for _, p := range []*proc{b.wan, b.vodsim, b.redis, b.sink} {
		p.stop(5 * time.Second)
	}
}

func (o *options) needs(srv string) bool {
	for _, s := range o.servers {
		if s == srv {
			return true
		}
	}
	return false
}

func (o *options) startBackend() (*backend, error) {
	b := &backend{dir: filepath.Join(o.work, "backend")}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			b.close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addr := filepath.Join(b.dir, "sink.addr")
	var err error
	if b.sink, err = start(filepath.Join(b.dir, "sink.log"), "sink", o.bin.sink, []string{"-listen", "127.0.0.1:0", "-etag", o.sinkETag, "-addr-file", addr}, nil); err != nil {
		return nil, err
	}
	u, err := waitFile(ctx, b.sink, addr)
	if err != nil {
		return nil, err
	}
	b.sinkURL = strings.TrimSpace(string(u))

	if slices.ContainsFunc(o.casesFor(), func(c benchCase) bool { return c.WAN }) {
		waddr := filepath.Join(b.dir, "wan.addr")
		wargs := []string{"wanproxy", "-target", strings.TrimPrefix(b.sinkURL, "http://"), "-rtt", o.wan.RTT.String(),
			"-bw", strconv.FormatInt(o.wan.BytesPerSec, 10), "-addr-file", waddr}
		if b.wan, err = start(filepath.Join(b.dir, "wan.log"), "wanproxy", o.bin.self, wargs, nil); err != nil {
			return nil, err
		}
		w, err := waitFile(ctx, b.wan, waddr)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(w), "\n") {
			if v, ok := strings.CutPrefix(l, "URL="); ok {
				b.wanURL = v
			} else if v, ok := strings.CutPrefix(l, "STATS="); ok {
				b.wanStats = v
			}
		}
		if b.wanURL == "" || b.wanStats == "" {
			return nil, fmt.Errorf("wanproxy: no URL or STATS in %q", w)
		}
	}

	if o.needs(srvGateway) || len(o.variants) > 0 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		rdir := filepath.Join(b.dir, "redis")
		os.MkdirAll(rdir, 0o755)
		if b.redis, err = start(filepath.Join(b.dir, "redis.log"), "redis", o.bin.redis, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", rdir, "--daemonize", "no"}, nil); err != nil {
			return nil, err
		}
		b.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		if err := waitTCP(ctx, b.redis, port); err != nil {
			return nil, err
		}
		vaddr := filepath.Join(b.dir, "vodsim.addr")
		vargs := []string{"vodsim", "-addr-file", vaddr}
		if o.vod == "stub" {
			vargs = append(vargs, "-stub", b.sinkURL)
		}
		if b.vodsim, err = start(filepath.Join(b.dir, "vodsim.log"), "vodsim", o.bin.self, vargs, nil); err != nil {
			return nil, err
		}
		v, err := waitFile(ctx, b.vodsim, vaddr)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(strings.NewReader(string(v)))
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "VOD="); ok {
				b.vodAddr = a
			}
		}
		if b.vodAddr == "" {
			return nil, fmt.Errorf("vodsim: no VOD address in %q", v)
		}
	}
	ok = true
	return b, nil
}

func waitTCP(ctx context.Context, p *proc, port int) error {
	for {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited early: %v\n%s", p.name, p.err, p.tail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: port %d not listening", p.name, port)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// server is one started server under test.
type server struct {
	p        *proc
	more     []*proc // gateway instances 2..N (-gateway-instances)
	lb       *http.Server
	endpoint string // tus creation URL
	putURL   string // ceiling-put target
	dirs     []string
	backend  map[string]int // pids whose CPU counts as backend work
	pprof    string         // base URL of the profiling endpoint (gateway with -gateway-profile)
	metrics  string         // the gateway's /metrics URL
}

// pids returns the processes of the server under test.
func (s *server) pids() []int {
	pids := []int{s.p.pid()}
	for _, p := range s.more {
		pids = append(pids, p.pid())
	}
	return pids
}

// stop stops the server's processes and balancer.
func (s *server) stop() {
	if s.lb != nil {
		s.lb.Close()
	}
	s.p.stop(10 * time.Second)
	for _, p := range s.more {
		p.stop(10 * time.Second)
	}
}

// startServer starts a fresh srv whose scratch space is dir, logging to
// logPath; with wan, its sink (OSS or S3 endpoint) is the WAN link proxy.
func (o *options) startServer(env *backend, srv, dir, logPath string, wan bool) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &server{endpoint: base + "/files/", dirs: []string{tmp}}
	readyURL, tus := base+"/files/", true
	kind := srv
	gatewayBin := o.bin.gateway
	if b, ok := o.variants[srv]; ok {
		kind, gatewayBin = srvGateway, b
	}
	sinkURL := env.sinkURL
	if wan {
		if env.wanURL == "" {
			return nil, fmt.Errorf("no WAN link proxy running")
		}
		sinkURL = env.wanURL
	}
	switch kind {
	case srvGateway:
		e := []string{
			"TMPDIR=" + tmp,
			"VODGATE_LISTEN=127.0.0.1:" + strconv.Itoa(port),
			"VODGATE_REDIS_URL=" + env.redisURL,
			"VODGATE_VOD_ENDPOINT=" + env.vodAddr,
			"VODGATE_VOD_PROTOCOL=http",
			"VODGATE_OSS_ENDPOINT=" + sinkURL,
			"VODGATE_BUFFER_BUDGET=" + strconv.Itoa(o.budgetMiB) + "MiB",
			"VODGATE_LOG_LEVEL=warn",
			// The VOD stub has no account limit, and tusd no VOD: with the
			// quota (80 creations per second, issue 16) the 500-upload and
			// creation cases would measure VOD's limit, not the gateway.
			// -gateway-env VODGATE_VOD_QUOTA_CREATE_QPS=80 turns it back on.
			"VODGATE_VOD_QUOTA_CREATE_QPS=0",
			"VODGATE_VOD_QUOTA_DELETE_QPS=0",
			"ALIBABA_CLOUD_ACCESS_KEY_ID=" + simAccessKeyID,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + simAccessKeySecret,
		}
		e = append(e, o.gatewayEnv...)
		if o.profileDir != "" && srv == srvGateway {
			pp, err := freePort()
			if err != nil {
				return nil, err
			}
			e = append(e, fmt.Sprintf("VODGATE_BENCH_PPROF=127.0.0.1:%d", pp))
			s.pprof = fmt.Sprintf("http://127.0.0.1:%d", pp)
		}
		args := append(slices.Clone(o.gatewayArgs), o.variantArgs[srv]...)
		if o.instances > 1 { // the balancer takes port; the instances get their own
			err = o.startInstances(s, srv, gatewayBin, args, e, logPath, port)
		} else {
			s.p, err = start(logPath, srv, gatewayBin, args, e)
		}
		if err != nil {
			return nil, err
		}
		readyURL, tus = base+"/readyz", false
		s.metrics = base + "/metrics"
		s.backend = map[string]int{"sink": env.sink.pid(), "redis": env.redis.pid(), "vod": env.vodsim.pid()}
		if wan {
			s.backend[wanProc] = env.wan.pid()
		}
	case srvTusdS3:
		e := []string{"TMPDIR=" + tmp, "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench-secret", "AWS_REGION=us-east-1",
			"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true"}
		args := []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port), "-base-path", "/files/",
			"-s3-bucket", "bench", "-s3-endpoint", sinkURL, "-s3-object-prefix", "tusd/",
			"-verbose=false", "-show-startup-logs=false"}
		args = append(args, o.tusdArgs...)
		if s.p, err = start(logPath, srv, o.bin.tusd, args, e); err != nil {
			return nil, err
		}
		s.backend = map[string]int{"sink": env.sink.pid()}
		if wan {
			s.backend[wanProc] = env.wan.pid()
		}
	case srvTusdFile:
		up := filepath.Join(dir, "uploads")
		if err := os.MkdirAll(up, 0o755); err != nil {
			return nil, err
		}
		args := []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port), "-base-path", "/files/",
			"-upload-dir", up, "-verbose=false", "-show-startup-logs=false"}
		args = append(args, o.tusdArgs...)
		if s.p, err = start(logPath, srv, o.bin.tusd, args, []string{"TMPDIR=" + tmp}); err != nil {
			return nil, err
		}
		s.dirs = append(s.dirs, up)
	case srvCeiling, srvCeilingPut:
		args := []string{"-listen", "127.0.0.1:" + strconv.Itoa(port), "-etag", "none"}
		if s.p, err = start(logPath, srv, o.bin.sink, args, []string{"TMPDIR=" + tmp}); err != nil {
			return nil, err
		}
		s.endpoint = base + "/_tus/"
		s.putURL = base + "/_discard/bench"
		readyURL, tus = base+"/_stats", false
	default:
		return nil, fmt.Errorf("unknown server %q", srv)
	}
	if err := waitReady(s.p, readyURL, tus, 30*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}
