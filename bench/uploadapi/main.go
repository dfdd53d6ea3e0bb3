// Command uploadapi measures the upload list and events: the creation rate
// through the gateway (with the list's index writes) against a baseline
// gateway binary built without them, the latency of listing a page of 100
// of one owner's uploads out of -n, and with -events the creation rate
// with webhooks on and the events per second delivered end to end
// (gateway → Redis → an in-process receiver), on the same Redis and
// VOD/OSS simulators. It prints a markdown table.
//
//	go build -o /tmp/gw ./cmd/gateway
//	git worktree add /tmp/base e44c18c && (cd /tmp/base && go build -o /tmp/gw-base ./cmd/gateway)
//	go run ./bench/uploadapi -gateway /tmp/gw -baseline /tmp/gw-base -redis-url redis://127.0.0.1:6379/0
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/vodtest"
)

const (
	accessKeyID     = "LTAI5tBENCHUPLOADAPI"
	accessKeySecret = "bench-secret"
)

func main() {
	gw := flag.String("gateway", "", "gateway binary under test (required)")
	base := flag.String("baseline", "", "gateway binary to compare the creation rate with (optional)")
	redisURL := flag.String("redis-url", os.Getenv("VODGATE_REDIS_URL"), "Redis URL")
	n := flag.Int("n", 10000, "uploads of one owner to create and list")
	samples := flag.Int("samples", 300, "page requests to time")
	workers := flag.Int("c", 16, "concurrent creations")
	withEvents := flag.Bool("events", false, "also run with webhooks on (each creation of an empty upload makes two events)")
	flag.Parse()
	if *gw == "" || *redisURL == "" {
		fmt.Fprintln(os.Stderr, "uploadapi: -gateway and -redis-url are required")
		os.Exit(2)
	}
	oss := osstest.NewServer(osstest.Config{})
	defer oss.Close()
	vod := vodtest.NewServer(vodtest.Config{OSS: oss, AccessKeys: map[string]string{accessKeyID: accessKeySecret}})
	defer vod.Close()
	dir, err := os.MkdirTemp("", "bench-uploadapi")
	check(err)
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "keys")
	check(os.WriteFile(keyFile, []byte(randHex(32)+"\n"), 0o600))

	fmt.Printf("| gateway | uploads | creations/s | list p50 | list p99 | list req/s | events/s end to end |\n|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name, bin string, hooks *receiver) {
		length := "1000"
		if *withEvents {
			length = "0" // every row the same work: each upload completes at creation
		}
		r := run(bin, *redisURL, vod, keyFile, length, *n, *samples, *workers, hooks, dir)
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %s |\n", name, *n, r.createRate, r.p50, r.p99, r.listRate, r.eventRate)
	}
	if *base != "" {
		row("baseline", *base, nil)
	}
	row("under test", *gw, nil)
	if *withEvents {
		row("under test, webhooks on", *gw, newReceiver())
	}
}

type result struct {
	createRate         float64
	p50, p99, listRate string
	eventRate          string
}

// receiver counts webhook deliveries.
type receiver struct {
	url   string
	count atomic.Int64
	last  atomic.Int64 // unix ns of the latest delivery
}

func newReceiver() *receiver {
	r := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	r.url = "http://" + ln.Addr().String() + "/hooks"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.count.Add(1)
		r.last.Store(time.Now().UnixNano())
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return r
}

// run measures one gateway. length is every upload's Upload-Length ("0":
// created and completed at once, two events each with webhooks on).
func run(bin, redisURL string, vod *vodtest.Server, keyFile, length string, n, samples, workers int, hooks *receiver, dir string) result {
	addr := freeAddr()
	prefix := "bench-uploadapi-" + randHex(4)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "VODGATE_LISTEN="+addr, "VODGATE_REDIS_URL="+redisURL, "VODGATE_REDIS_PREFIX="+prefix,
		"VODGATE_VOD_ENDPOINT="+vod.Endpoint(), "VODGATE_VOD_PROTOCOL=http", "VODGATE_LOG_LEVEL=warn",
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE="+keyFile, "VODGATE_VOD_QUOTA_CREATE_QPS=0", // the simulator has no account limit
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+accessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+accessKeySecret)
	if hooks != nil {
		secretFile := filepath.Join(dir, "webhook-secret")
		check(os.WriteFile(secretFile, []byte("whsec_"+base64.StdEncoding.EncodeToString([]byte(randHex(16)))+"\n"), 0o600))
		cmd.Env = append(cmd.Env, "VODGATE_WEBHOOK_URL="+hooks.url, "VODGATE_WEBHOOK_SECRET_FILE="+secretFile,
			"VODGATE_WEBHOOK_CONCURRENCY=16")
	}
	cmd.Stderr = io.Discard
	check(cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitReady("http://" + addr + "/readyz")
	out, err := exec.Command(bin, "token", "-key-file", keyFile, "-sub", "bench", "-ttl", "1h").Output()
	check(err)
	tok := strings.TrimSpace(string(out))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var next, failed atomic.Int64
	began := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/files/", nil)
				req.Header.Set("Tus-Resumable", "1.0.0")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Upload-Length", length)
				req.Header.Set("Upload-Metadata", "filename Y2xpcC5tcDQ=")
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	r := result{createRate: float64(n) / time.Since(began).Seconds(), p50: "-", p99: "-", listRate: "-", eventRate: "-"}
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "uploadapi: %d creations failed\n", failed.Load())
	}
	r.eventRate = "-"
	if hooks != nil {
		want := int64(2 * n)
		deadline := time.Now().Add(5 * time.Minute)
		for hooks.count.Load() < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		secs := float64(hooks.last.Load()-began.UnixNano()) / 1e9
		r.eventRate = fmt.Sprintf("%.0f (%d events)", float64(hooks.count.Load())/secs, hooks.count.Load())
	}
	if code, _ := listPage(client, addr, tok, ""); code != http.StatusOK {
		return r // the baseline has no upload API
	}
	// Time pages 100 at a time, walking the list and starting over.
	var lat []time.Duration
	cursor := ""
	start := time.Now()
	for range samples {
		t0 := time.Now()
		code, nextCursor := listPage(client, addr, tok, cursor)
		lat = append(lat, time.Since(t0))
		if code != http.StatusOK {
			fmt.Fprintf(os.Stderr, "uploadapi: list answered %d\n", code)
			os.Exit(1)
		}
		cursor = nextCursor
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	r.p50 = lat[len(lat)/2].Round(10 * time.Microsecond).String()
	r.p99 = lat[len(lat)*99/100].Round(10 * time.Microsecond).String()
	r.listRate = fmt.Sprintf("%.0f", float64(samples)/elapsed.Seconds())
	return r
}

func listPage(c *http.Client, addr, tok, cursor string) (int, string) {
	u := "http://" + addr + "/uploads?limit=100"
	if cursor != "" {
		u += "&cursor=" + cursor
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var page struct {
		Uploads []json.RawMessage `json:"uploads"`
		Next    *string           `json:"next"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&page) != nil {
		return resp.StatusCode, ""
	}
	if page.Next == nil {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, *page.Next
}

func waitReady(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "uploadapi: gateway never became ready")
	os.Exit(1)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "uploadapi:", err)
		os.Exit(1)
	}
}
