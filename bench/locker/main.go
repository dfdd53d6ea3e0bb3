// Command locker benchmarks lock acquire+release of the Redis locker against
// tusd's memorylocker and prints a markdown table. Each scenario runs for -d
// with 1 or 8 goroutines that each loop NewLock, Lock, Unlock on either their
// own upload ID ("distinct") or one shared ID ("same"; every Lock then finds
// the lock held, asks for it and waits for the release).
//
//	go run ./bench/locker -redis-url redis://127.0.0.1:6379/0 -d 2s
//
// The Redis URL defaults to $VODGATE_REDIS_URL. -redis-url may be repeated,
// in any of the gateway's forms, to compare topologies side by side:
//
//	go run ./bench/locker -d 1s -redis-url redis://127.0.0.1:6379/0 \
//	    -redis-url 'redis://127.0.0.1:26379/0?master_name=M&addr=127.0.0.1:26380' \
//	    -redis-url 'redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001'
//
// With -miniredis the locker also runs against an in-process miniredis (the
// -dev mode backend).
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/locker"
)

type scenario struct {
	workers int
	sameID  bool
}

func (s scenario) String() string {
	ids := "distinct ids"
	if s.sameID {
		ids = "same id"
	}
	return fmt.Sprintf("%d goroutine(s), %s", s.workers, ids)
}

type result struct {
	ops      int
	elapsed  time.Duration
	p50, p99 time.Duration
	errs     int
}

func (r result) cells() string {
	return fmt.Sprintf("%.0f | %s | %s", float64(r.ops)/r.elapsed.Seconds(), fmtDur(r.p50), fmtDur(r.p99))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1e3)
	default:
		return fmt.Sprintf("%.2fms", float64(d.Nanoseconds())/1e6)
	}
}

// run loops acquire+release on lk for d and measures each pair.
func run(lk handler.Locker, s scenario, d time.Duration, prefix string) result {
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range s.workers {
		id := fmt.Sprintf("%s-%d", prefix, w)
		if s.sameID {
			id = prefix + "-same"
		}
		wg.Go(func() {
			var local []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := lockUnlock(lk, id); err != nil {
					bad++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	r := result{ops: len(lats), elapsed: time.Since(start), errs: errs}
	if len(lats) > 0 {
		slices.Sort(lats)
		r.p50 = lats[len(lats)/2]
		r.p99 = lats[len(lats)*99/100]
	}
	return r
}

func lockUnlock(lk handler.Locker, id string) error {
	l, err := lk.NewLock(id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Lock(ctx, func() {}); err != nil {
		return err
	}
	return l.Unlock()
}

type backend struct {
	name string
	lk   handler.Locker
}

func main() {
	var urls []string
	flag.Func("redis-url", "Redis URL in any of the gateway's forms (single, Sentinel, Cluster); repeatable (default $VODGATE_REDIS_URL)",
		func(v string) error { urls = append(urls, v); return nil })
	d := flag.Duration("d", 2*time.Second, "duration of each scenario")
	withMini := flag.Bool("miniredis", false, "also benchmark against an in-process miniredis")
	flag.Parse()
	if len(urls) == 0 && os.Getenv("VODGATE_REDIS_URL") != "" {
		urls = []string{os.Getenv("VODGATE_REDIS_URL")}
	}
	if err := mainErr(urls, *d, *withMini); err != nil {
		fmt.Fprintln(os.Stderr, "bench/locker:", err)
		os.Exit(1)
	}
}

func mainErr(urls []string, d time.Duration, withMini bool) error {
	if len(urls) == 0 {
		return fmt.Errorf("no Redis: set -redis-url or VODGATE_REDIS_URL")
	}
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	prefix := "vodgatebench-" + strings.ToLower(rand.Text()[:8])
	backends := []backend{{"memorylocker", memorylocker.New()}}
	var where []string
	for _, u := range urls {
		rdb, err := testenv.ParseClient(u)
		if err != nil {
			return err
		}
		defer rdb.Close()
		version, err := redisVersion(ctx, rdb)
		if err != nil {
			return fmt.Errorf("redis at %s: %w", u, err)
		}
		rl := locker.New(rdb, locker.Config{Prefix: prefix, Logger: quiet})
		defer rl.Close()
		name := string(testenv.TopologyOf(u))
		backends = append(backends, backend{name, rl})
		where = append(where, name+" "+version)
		defer cleanup(ctx, rdb, prefix)
	}
	if withMini {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return fmt.Errorf("start miniredis: %w", err)
		}
		defer mr.Close()
		mc := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 32})
		defer mc.Close()
		ml := locker.New(mc, locker.Config{Logger: quiet})
		defer ml.Close()
		backends = append(backends, backend{"miniredis", ml})
	}

	fmt.Printf("Lock+Unlock pairs, %s per cell; %s %s/%s, GOMAXPROCS=%d; Redis: %s (loopback).\n\n",
		d, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), strings.Join(where, ", "))
	head, sep := "| scenario |", "|---|"
	for _, b := range backends {
		head += fmt.Sprintf(" %s ops/s | p50 | p99 |", b.name)
		sep += "---:|---:|---:|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for _, s := range []scenario{{1, false}, {8, false}, {1, true}, {8, true}} {
		row := "| " + s.String() + " |"
		for i, b := range backends {
			r := run(b.lk, s, d, fmt.Sprintf("%s-%d-%d-%v", prefix, i, s.workers, s.sameID))
			row += " " + r.cells() + " |"
			if r.errs > 0 {
				fmt.Fprintf(os.Stderr, "%s, %s: %d errors\n", b.name, s, r.errs)
			}
		}
		fmt.Println(row)
	}
	return nil
}

func redisVersion(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "?", nil
}

// cleanup deletes the fence keys the benchmark created (lock keys are gone
// after Unlock).
func cleanup(ctx context.Context, rdb redis.UniversalClient, prefix string) {
	keys, _ := testenv.ScanKeys(ctx, rdb, prefix+"*") // every master of a Cluster
	for _, k := range keys {
		rdb.Del(ctx, k)
	}
}
