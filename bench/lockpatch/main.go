// Command lockpatch measures what the Redis locker costs the upload path:
// lock acquire+release per second of the Redis locker and of tusd's
// memorylocker, and the added latency (p50/p99) of tus PATCH and HEAD
// requests when tusd runs on the Redis locker (with fenced record writes,
// as the gateway does) instead of memorylocker. It prints markdown tables.
//
//	go run ./bench/lockpatch -redis-url redis://127.0.0.1:6379/0
//
// Both setups run in this process on the same footing: tusd's handler on
// tusstore, the OSS and VOD simulators (internal/osstest, internal/vodtest)
// over loopback, and upload records (internal/redisstate) in the same Redis;
// only the locker differs (and with it, fencing: tusstore gets the Redis
// locker as its Fencer, as cmd/gateway wires it). Requests alternate between
// the two setups so that drift in machine load affects both alike. The
// Redis URL defaults to $VODGATE_REDIS_URL, then $VODGATE_TEST_REDIS_URL;
// -miniredis uses an in-process miniredis instead (the -dev backend; its
// figures understate a networked Redis). For the full lock table (parallel
// and same-id contention) see bench/locker. Nothing here is asserted: it is
// a measurement, not a test.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/redisstate"
	"github.com/vodgate/vodgate/internal/vodtest"
	"github.com/vodgate/vodgate/locker"
	"github.com/vodgate/vodgate/tusstore"
	"github.com/vodgate/vodgate/vodbridge"
)

const (
	accessKeyID     = "LTAIlockpatchbench"
	accessKeySecret = "lockpatch-secret"
)

type options struct {
	redisURL string
	mini     bool
	n        int           // PATCHes per chunk size and setup
	lockDur  time.Duration // duration of the acquire+release loop per locker
	chunks   []int64
	partSize int64
}

func main() {
	var o options
	def := os.Getenv("VODGATE_REDIS_URL")
	if def == "" {
		def = os.Getenv("VODGATE_TEST_REDIS_URL")
	}
	chunks := flag.String("chunks", "64KiB,1MiB", "comma-separated PATCH body sizes (KiB or MiB suffix)")
	flag.StringVar(&o.redisURL, "redis-url", def, "Redis URL (redis://host:port/db)")
	flag.BoolVar(&o.mini, "miniredis", false, "use an in-process miniredis instead of -redis-url")
	flag.IntVar(&o.n, "n", 200, "PATCHes per chunk size and setup")
	flag.DurationVar(&o.lockDur, "lock-d", 2*time.Second, "duration of the acquire+release loop per locker")
	flag.Parse()
	var err error
	if o.chunks, err = parseSizes(*chunks); err != nil {
		fmt.Fprintln(os.Stderr, "bench/lockpatch:", err)
		os.Exit(2)
	}
	o.partSize = 8 << 20 // the gateway's default
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/lockpatch:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		mult := int64(1)
		switch {
		case strings.HasSuffix(f, "KiB"):
			f, mult = strings.TrimSuffix(f, "KiB"), 1<<10
		case strings.HasSuffix(f, "MiB"):
			f, mult = strings.TrimSuffix(f, "MiB"), 1<<20
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

// setup is tusd + tusstore on one locker, served over loopback.
type setup struct {
	name string
	lk   handler.Locker
	srv  *httptest.Server
}

func run(o options) error {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	rdb, where, closeRedis, err := openRedis(o)
	if err != nil {
		return err
	}
	defer closeRedis()
	prefix := "vodgatebench-lockpatch-" + strings.ToLower(rand.Text()[:8])
	defer cleanup(ctx, rdb, prefix)

	oss := osstest.NewServer(osstest.Config{Logger: quiet})
	defer oss.Close()
	vod := vodtest.NewServer(vodtest.Config{OSS: oss, AccessKeys: map[string]string{accessKeyID: accessKeySecret}, Logger: quiet})
	defer vod.Close()

	rl := locker.New(rdb, locker.Config{Prefix: prefix, Logger: quiet})
	defer rl.Close()
	mem, err := newSetup("memorylocker", memorylocker.New(), nil, rdb, prefix+"-mem", vod, o, quiet)
	if err != nil {
		return err
	}
	defer mem.srv.Close()
	red, err := newSetup("Redis locker", rl, rl, rdb, prefix, vod, o, quiet)
	if err != nil {
		return err
	}
	defer red.srv.Close()

	fmt.Printf("bench/lockpatch: %s %s/%s, GOMAXPROCS=%d; Redis: %s; OSS/VOD simulators over loopback; tusstore part size %d MiB.\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), where, o.partSize>>20)

	// Lock acquire+release, one goroutine, a new upload id each time.
	fmt.Printf("Lock+Unlock pairs, 1 goroutine, distinct ids, %v each (see bench/locker for contention):\n\n", o.lockDur)
	fmt.Println("| locker | acquire+release/s | p50 | p99 |")
	fmt.Println("|---|---:|---:|---:|")
	for _, s := range []*setup{mem, red} {
		ops, lats, err := lockLoop(s.lk, o.lockDur, prefix+"-lockloop-"+s.name)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("| %s | %.0f | %s | %s |\n", s.name, ops, fmtDur(pct(lats, 50)), fmtDur(pct(lats, 99)))
	}

	// PATCH and HEAD latency, alternating between the setups.
	fmt.Printf("\nRequest latency over loopback, %d requests per row and locker (HEAD: after each PATCH):\n\n", o.n)
	fmt.Println("| request | memorylocker p50 | p99 | Redis locker p50 | p99 | added p50 | added p99 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, chunk := range o.chunks {
		res, err := measure(o, chunk, mem, red)
		if err != nil {
			return err
		}
		for _, row := range []struct {
			name string
			m, r []time.Duration
		}{
			{"PATCH " + fmtSize(chunk), res[0].patch, res[1].patch},
			{"HEAD (after " + fmtSize(chunk) + " PATCHes)", res[0].head, res[1].head},
		} {
			m50, m99, r50, r99 := pct(row.m, 50), pct(row.m, 99), pct(row.r, 50), pct(row.r, 99)
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", row.name, fmtDur(m50), fmtDur(m99),
				fmtDur(r50), fmtDur(r99), fmtDur(r50-m50), fmtDur(r99-m99))
		}
	}
	return nil
}

func openRedis(o options) (*redis.Client, string, func(), error) {
	if o.mini {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return nil, "", nil, fmt.Errorf("start miniredis: %w", err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return rdb, "in-process miniredis", func() { rdb.Close(); mr.Close() }, nil
	}
	if o.redisURL == "" {
		return nil, "", nil, errors.New("no Redis: set -redis-url, $VODGATE_REDIS_URL or $VODGATE_TEST_REDIS_URL, or use -miniredis")
	}
	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, "", nil, fmt.Errorf("parse redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		rdb.Close()
		return nil, "", nil, fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	version := "?"
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			version = v
		}
	}
	return rdb, fmt.Sprintf("redis-server %s at %s", version, opt.Addr), func() { rdb.Close() }, nil
}

func newSetup(name string, lk handler.Locker, fencer tusstore.Fencer, rdb *redis.Client, prefix string,
	vod *vodtest.Server, o options, logger *slog.Logger) (*setup, error) {
	vb, err := vodbridge.New(vodbridge.Config{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret,
		Endpoint: vod.Endpoint(), Protocol: "http", Timeout: 10 * time.Second, Logger: logger})
	if err != nil {
		return nil, err
	}
	cfg := tusstore.Config{VOD: vb, Records: redisstate.New(rdb, redisstate.Config{Prefix: prefix, TTL: time.Hour}),
		PartSize: o.partSize, Logger: logger}
	if fencer != nil {
		cfg.Fencer = fencer
	}
	store, err := tusstore.New(cfg)
	if err != nil {
		return nil, err
	}
	composer := handler.NewStoreComposer()
	store.UseIn(composer)
	lk.(interface{ UseIn(*handler.StoreComposer) }).UseIn(composer)
	h, err := handler.NewHandler(handler.Config{BasePath: "/files/", StoreComposer: composer,
		DisableDownload: true, Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	return &setup{name: name, lk: lk, srv: httptest.NewServer(mux)}, nil
}

// lockLoop runs NewLock+Lock+Unlock for d on new ids; it returns pairs per
// second and each pair's duration.
func lockLoop(lk handler.Locker, d time.Duration, prefix string) (float64, []time.Duration, error) {
	var lats []time.Duration
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		t0 := time.Now()
		l, err := lk.NewLock(prefix + "-" + strconv.Itoa(i))
		if err != nil {
			return 0, nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = l.Lock(ctx, func() {})
		cancel()
		if err != nil {
			return 0, nil, err
		}
		if err := l.Unlock(); err != nil {
			return 0, nil, err
		}
		lats = append(lats, time.Since(t0))
	}
	return float64(len(lats)) / time.Since(start).Seconds(), lats, nil
}

type latencies struct{ patch, head []time.Duration }

// measure uploads with chunk-sized PATCHes on both setups in alternation
// (which setup goes first flips every request) and times each PATCH and a
// HEAD after it. Uploads are sized for 20 PATCHes, then a new one starts.
func measure(o options, chunk int64, setups ...*setup) ([]latencies, error) {
	const perUpload = 20
	body := make([]byte, chunk)
	_, _ = rand.Read(body)
	hc := &http.Client{Timeout: time.Minute}
	type state struct {
		url string
		off int64
	}
	st := make([]state, len(setups))
	out := make([]latencies, len(setups))
	// One warm-up upload each (connections, the locker's subscription).
	for i := range setups {
		if _, err := create(hc, setups[i], chunk*perUpload); err != nil {
			return nil, err
		}
	}
	for k := 0; k < o.n; k++ {
		order := []int{0, 1}
		if k%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			s := &st[i]
			if s.url == "" || s.off == chunk*perUpload {
				u, err := create(hc, setups[i], chunk*perUpload)
				if err != nil {
					return nil, err
				}
				*s = state{url: u}
			}
			d, err := patch(hc, s.url, s.off, body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", setups[i].name, err)
			}
			s.off += chunk
			out[i].patch = append(out[i].patch, d)
			d, err = head(hc, s.url, s.off)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", setups[i].name, err)
			}
			out[i].head = append(out[i].head, d)
		}
	}
	return out, nil
}

func create(hc *http.Client, s *setup, length int64) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/files/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	req.Header.Set("Upload-Metadata", "filename YmVuY2gubXA0") // bench.mp4
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("%s: POST: %s", s.name, resp.Status)
	}
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = s.srv.URL + loc
	}
	return loc, nil
}

func patch(hc *http.Client, url string, off int64, body []byte) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(body))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != http.StatusNoContent {
		return 0, fmt.Errorf("PATCH at %d: %s %s", off, resp.Status, b)
	}
	return d, nil
}

func head(hc *http.Client, url string, want int64) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != strconv.FormatInt(want, 10) {
		return 0, fmt.Errorf("HEAD: %s, Upload-Offset %q, want %d", resp.Status, resp.Header.Get("Upload-Offset"), want)
	}
	return d, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func fmtDur(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%s%.0fµs", sign, float64(d.Nanoseconds())/1e3)
	default:
		return fmt.Sprintf("%s%.2fms", sign, float64(d.Nanoseconds())/1e6)
	}
}

func fmtSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// cleanup deletes the keys the benchmark created.
func cleanup(ctx context.Context, rdb *redis.Client, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
