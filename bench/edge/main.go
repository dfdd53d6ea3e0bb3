package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go/http3"
)

const MiB = 1 << 20

type options struct {
	bin      string
	sizeMiB  int64
	smallN   int
	smallMiB int64
	conc     int
	protos   []string
	cases    []string
	keep     bool
}

func main() {
	var o options
	var protos, cases string
	var smoke bool
	flag.StringVar(&o.bin, "gateway", os.Getenv("GATEWAY_BIN"), "gateway binary (default: $GATEWAY_BIN, else go build ./cmd/gateway)")
	flag.Int64Var(&o.sizeMiB, "size-mib", 1024, "size of the one-PATCH upload")
	flag.IntVar(&o.smallN, "small-n", 500, "number of concurrent small uploads")
	flag.Int64Var(&o.smallMiB, "small-mib", 1, "size of each small upload")
	flag.IntVar(&o.conc, "concurrency", 50, "small uploads in flight at once")
	flag.StringVar(&protos, "protos", "h1,h2,h3", "protocols: h1, h2, h3")
	flag.StringVar(&cases, "cases", "one-patch,small", "cases: one-patch, small")
	flag.BoolVar(&smoke, "smoke", false, "16 MiB and 20 x 1 MiB: checks the tool, measures nothing")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch directory (logs)")
	flag.Parse()
	if smoke {
		o.sizeMiB, o.smallN, o.smallMiB = 16, 20, 1
	}
	o.protos, o.cases = strings.Split(protos, ","), strings.Split(cases, ",")
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

// row is one measured case.
type row struct {
	Case, Proto      string
	Bytes            int64
	Seconds          float64
	GatewayCPU       float64 // seconds
	ClientCPU        float64 // seconds
	Uploads, Objects int
}

func run(o options, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "vodgate-bench-edge.")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "scratch:", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if o.bin == "" {
		o.bin = filepath.Join(tmp, "gateway")
		fmt.Fprintln(os.Stderr, "building gateway...")
		cmd := exec.Command("go", "build", "-o", o.bin, "./cmd/gateway")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	certFile, keyFile, err := writeCert(tmp)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)

	var rows []row
	for _, c := range o.cases {
		for _, p := range o.protos {
			r, err := runCase(o, tmp, certFile, keyFile, roots, c, p)
			if err != nil {
				return fmt.Errorf("%s over %s: %w", c, p, err)
			}
			fmt.Fprintf(os.Stderr, "%s %s: %.1f MiB/s\n", c, p, float64(r.Bytes)/MiB/r.Seconds)
			rows = append(rows, r)
		}
	}
	printTable(out, rows)
	return nil
}

func runCase(o options, tmp, certFile, keyFile string, roots *x509.CertPool, kind, proto string) (row, error) {
	dir, err := os.MkdirTemp(tmp, kind+"-"+proto+".")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(filepath.Join(dir, "data"))
	gw, err := startGateway(o.bin, dir, certFile, keyFile, roots)
	if err != nil {
		return row{}, err
	}
	defer gw.stop()

	c, closeClient := client(proto, roots)
	defer closeClient()
	r := row{Case: kind, Proto: proto}
	var want []string // SHA-256 of every object
	cpu0, ccpu0 := gw.cpu(), selfCPU()
	start := time.Now()
	switch kind {
	case "one-patch":
		size := o.sizeMiB * MiB
		sum, err := upload(c, gw.endpoint, size, newSource(1, size), proto)
		if err != nil {
			return r, err
		}
		r.Bytes, r.Uploads, want = size, 1, []string{sum}
	case "small":
		size := o.smallMiB * MiB
		buf, _ := io.ReadAll(newSource(2, size))
		h := sha256.Sum256(buf)
		sum := hex.EncodeToString(h[:])
		errs := make(chan error, o.smallN)
		jobs := make(chan struct{}, o.smallN)
		for range o.smallN {
			jobs <- struct{}{}
		}
		close(jobs)
		var wg sync.WaitGroup
		for range max(1, min(o.conc, o.smallN)) {
			wg.Go(func() {
				for range jobs {
					if _, err := upload(c, gw.endpoint, size, bytes.NewReader(buf), proto); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return r, fmt.Errorf("%d failed uploads, first: %w", len(errs)+1, err)
		}
		r.Bytes, r.Uploads = size*int64(o.smallN), o.smallN
		for range o.smallN {
			want = append(want, sum)
		}
	default:
		return r, fmt.Errorf("unknown case %q", kind)
	}
	r.Seconds = time.Since(start).Seconds()
	r.GatewayCPU, r.ClientCPU = gw.cpu()-cpu0, selfCPU()-ccpu0
	n, err := checkObjects(gw.ossURL, want)
	r.Objects = n
	return r, err
}

// upload creates an upload of size bytes and sends body in one PATCH over
// c, checking the protocol of both responses; it returns body's SHA-256.
func upload(c *http.Client, endpoint string, size int64, body io.Reader, proto string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, endpoint, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(size))
	req.Header.Set("Upload-Metadata", "filename YmVuY2gubXA0") // bench.mp4
	resp, err := do(c, req, proto, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("POST: %w", err)
	}
	loc := resp.Header.Get("Location")
	h := sha256.New()
	req, _ = http.NewRequest(http.MethodPatch, loc, io.TeeReader(body, h))
	req.ContentLength = size
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	if resp, err = do(c, req, proto, http.StatusNoContent); err != nil {
		return "", fmt.Errorf("PATCH: %w", err)
	}
	if got := resp.Header.Get("Upload-Offset"); got != fmt.Sprint(size) {
		return "", fmt.Errorf("PATCH: Upload-Offset %s, want %d", got, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var protoName = map[string]string{"h1": "HTTP/1.1", "h2": "HTTP/2.0", "h3": "HTTP/3.0"}

func do(c *http.Client, req *http.Request, proto string, want int) (*http.Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if resp.Proto != protoName[proto] {
		return nil, fmt.Errorf("answered over %s, want %s", resp.Proto, protoName[proto])
	}
	return resp, nil
}

// client speaks only proto, over TLS trusting roots.
func client(proto string, roots *x509.CertPool) (*http.Client, func()) {
	tlsConf := &tls.Config{RootCAs: roots}
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		return &http.Client{Transport: tr}, func() { _ = tr.Close() }
	}
	var p http.Protocols
	p.SetHTTP1(proto == "h1")
	p.SetHTTP2(proto == "h2")
	tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p, MaxIdleConnsPerHost: 1000}
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// newSource is size deterministic pseudo-random bytes.
func newSource(seed uint64, size int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), size)
}

// checkObjects compares the OSS simulator's objects with want (SHA-256s,
// any order) and returns how many objects it holds.
func checkObjects(ossURL string, want []string) (int, error) {
	resp, err := http.Get(ossURL + "/_sim/objects")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var objs []struct {
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&objs); err != nil {
		return 0, fmt.Errorf("decode /_sim/objects: %w", err)
	}
	left := map[string]int{}
	for _, w := range want {
		left[w]++
	}
	for _, o := range objs {
		left[o.SHA256]--
	}
	for sum, n := range left {
		if n != 0 {
			return len(objs), fmt.Errorf("objects: sha256 %s: %d missing (%d objects for %d uploads)", sum, n, len(objs), len(want))
		}
	}
	return len(objs), nil
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| case | protocol | uploads | MiB | seconds | MiB/s | gateway CPU s/GiB | client CPU s/GiB |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		gib := float64(r.Bytes) / (1 << 30)
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.2f | %.1f | %.2f | %.2f |\n", r.Case, protoName[r.Proto], r.Uploads,
			r.Bytes/MiB, r.Seconds, float64(r.Bytes)/MiB/r.Seconds, r.GatewayCPU/gib, r.ClientCPU/gib)
	}
}
