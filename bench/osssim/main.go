// Command osssim measures the OSS simulator's UploadPart throughput: it
// pushes -size bytes of UploadPart calls (-part bytes each, -c at a time)
// through the official OSS Go SDK with an STS grant, completes the upload,
// and prints a markdown table.
//
//	go run ./bench/osssim                    # 1 GiB, 8 MiB parts, 4 concurrent, memory mode, V1
//	go run ./bench/osssim -v4 -dir /tmp/sim  # V4 signing, bytes kept in files
//
// The client and the simulator share the process (and its cores), so the
// figure is a lower bound on what the simulator alone sustains.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/vodgate/vodgate/internal/osstest"
)

const (
	bucket = "outin-00000000000000000000000000000000"
	key    = "sv/bench/object.mp4"
	mib    = 1 << 20
)

type options struct {
	size, part int64
	conc       int
	v4, crc    bool
	dir        string
}

type result struct {
	parts            int
	upload, complete time.Duration
	cpu              time.Duration
	rss, peak        int64
}

func main() {
	var o options
	flag.Int64Var(&o.size, "size", 1<<30, "total bytes to upload")
	flag.Int64Var(&o.part, "part", 8*mib, "part size in bytes")
	flag.IntVar(&o.conc, "c", 4, "concurrent UploadPart calls")
	flag.BoolVar(&o.v4, "v4", false, "sign with V4 instead of V1")
	flag.BoolVar(&o.crc, "crc", true, "let the SDK compute and check CRC-64 client-side (its default)")
	flag.StringVar(&o.dir, "dir", "", "keep bytes in files under this directory (default: memory)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the upload phase to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "osssim:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "osssim:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	printTable(os.Stdout, o, res)
}

func run(o options) (result, error) {
	var res result
	if o.part <= 0 || o.size < o.part || o.conc < 1 {
		return res, fmt.Errorf("need 0 < -part <= -size and -c >= 1")
	}
	srv := osstest.NewServer(osstest.Config{Dir: o.dir, Logger: slog.New(slog.DiscardHandler)})
	defer srv.Close()
	srv.Grant(osstest.Grant{AccessKeyID: "STS.bench", AccessKeySecret: "bench-secret", SecurityToken: "CAIS-bench",
		Bucket: bucket, Key: key, Expires: time.Now().Add(time.Hour)})
	opts := []oss.ClientOption{oss.SecurityToken("CAIS-bench"), oss.EnableCRC(o.crc), oss.Timeout(10, 120)}
	if o.v4 {
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(osstest.DefaultRegion))
	}
	client, err := oss.New(srv.URL(), "STS.bench", "bench-secret", opts...)
	if err != nil {
		return res, fmt.Errorf("oss.New: %w", err)
	}
	b, err := client.Bucket(bucket)
	if err != nil {
		return res, fmt.Errorf("bucket: %w", err)
	}
	imur, err := b.InitiateMultipartUpload(key)
	if err != nil {
		return res, fmt.Errorf("initiate: %w", err)
	}
	buf := make([]byte, o.part)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	res.parts = int((o.size + o.part - 1) / o.part)
	parts := make([]oss.UploadPart, res.parts)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for range o.conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= res.parts {
					return
				}
				n := min(o.part, o.size-int64(i)*o.part)
				p, err := b.UploadPart(imur, bytes.NewReader(buf[:n]), n, i+1)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("upload part %d: %w", i+1, err) })
					return
				}
				parts[i] = p
			}
		})
	}
	wg.Wait()
	res.upload = time.Since(start)
	res.cpu = cpuTime() - cpu0
	if firstErr != nil {
		return res, firstErr
	}
	start = time.Now()
	if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
		return res, fmt.Errorf("complete: %w", err)
	}
	res.complete = time.Since(start)
	if obj, ok := srv.Object(bucket, key); !ok || obj.Size != o.size || obj.Parts != res.parts {
		return res, fmt.Errorf("object after complete: %+v", obj)
	}
	res.rss, res.peak = rss()
	return res, nil
}

func printTable(w io.Writer, o options, r result) {
	mode, auth := "memory", "V1"
	if o.dir != "" {
		mode = "dir"
	}
	if o.v4 {
		auth = "V4"
	}
	mibs := float64(o.size) / mib / r.upload.Seconds()
	fmt.Fprintf(w, "| mode | auth | client CRC | parts × size | concurrency | total | upload s | MiB/s | CPU s/GiB | complete s | RSS MiB | peak RSS MiB | GOMAXPROCS |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| %s | %s | %v | %d × %d MiB | %d | %d MiB | %.2f | %.0f | %.2f | %.2f | %d | %d | %d |\n",
		mode, auth, o.crc, r.parts, o.part/mib, o.conc, o.size/mib, r.upload.Seconds(), mibs,
		r.cpu.Seconds()/(float64(o.size)/(1<<30)), r.complete.Seconds(), r.rss/mib, r.peak/mib, runtime.GOMAXPROCS(0))
}

// rss returns the current and peak resident set size from /proc/self/status.
func rss() (cur, peak int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v int64
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &v)
			cur = v << 10
		case strings.HasPrefix(line, "VmHWM:"):
			fmt.Sscanf(strings.TrimPrefix(line, "VmHWM:"), "%d", &v)
			peak = v << 10
		}
	}
	return cur, peak
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
