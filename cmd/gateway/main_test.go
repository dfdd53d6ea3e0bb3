package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/devstack"
)

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		out  string
	}{
		{"version", []string{"-version"}, nil, 0, "gateway "},
		{"help", []string{"-h"}, nil, 0, ""},
		{"bad flag", []string{"-part-size", "huge"}, nil, 2, "flag -part-size"},
		{"invalid config", []string{"-vod-protocol", "ftp"}, nil, 2, "config: vod-protocol"},
		{"no credentials", nil, nil, 2, "ALIBABA_CLOUD_ACCESS_KEY_ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, mapEnv(tc.env), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
				t.Errorf("code %d, want %d; output %q lacks %q", code, tc.code, stdout.String()+stderr.String(), tc.out)
			}
		})
	}
}

// TestRunDev wires the whole gateway against the dev stack, uploads a small
// file with two PATCHes and shuts down on SIGTERM.
func TestRunDev(t *testing.T) {
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-dev", "-listen", "127.0.0.1:0", "-dev-oss-listen", "127.0.0.1:0",
			"-dev-vod-listen", "127.0.0.1:0", "-dev-redis-listen", "127.0.0.1:0",
			"-dev-data-dir", t.TempDir(), "-part-size", "100KiB"}, mapEnv(nil), pw, &stderr)
		pw.Close()
	}()
	endpoint := ""
	re := regexp.MustCompile(`tus endpoint (http://\S+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			endpoint = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if endpoint == "" {
		t.Fatalf("no banner; log:\n%s", stderr.String())
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 15<<10) // 240 KiB: two parts + tail
	res := tusDo(t, "POST", endpoint, map[string]string{"Upload-Length": "245760",
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("clip.mp4"))}, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != 201 || res.Header.Get("Vod-Media-Id") == "" {
		t.Fatalf("POST: %d, media %q; log:\n%s", res.StatusCode, res.Header.Get("Vod-Media-Id"), stderr.String())
	}
	for _, chunk := range []struct{ off, end int }{{0, 150 << 10}, {150 << 10, len(data)}} {
		res = tusDo(t, "PATCH", loc, map[string]string{"Upload-Offset": strconv.Itoa(chunk.off),
			"Content-Type": "application/offset+octet-stream"}, data[chunk.off:chunk.end])
		if res.StatusCode != 204 {
			t.Fatalf("PATCH at %d: %d; log:\n%s", chunk.off, res.StatusCode, stderr.String())
		}
	}
	if res.Header.Get("Vod-Media-Type") != "video" || res.Header.Get("Upload-Offset") != "245760" {
		t.Errorf("final PATCH headers %v", res.Header)
	}
	// The -dev page and its media status (from the VOD simulator).
	root := strings.TrimSuffix(endpoint, "files/")
	if r, err := http.Get(root); err != nil || r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET / in -dev: %v %v", r, err)
	}
	var st struct{ MediaID, Status string }
	if r, err := http.Get(root + "devpage/media/" + res.Header.Get("Vod-Media-Id")); err != nil || r.StatusCode != 200 {
		t.Errorf("media status: %v %v", r, err)
	} else if err := json.NewDecoder(r.Body).Decode(&st); err != nil || st.MediaID != res.Header.Get("Vod-Media-Id") ||
		(st.Status != "UploadSucc" && st.Status != "Normal") {
		t.Errorf("media status %+v (%v)", st, err)
	}
	readyz := strings.Replace(endpoint, "/files/", "/readyz", 1)
	if r, err := http.Get(readyz); err != nil || r.StatusCode != 200 {
		t.Errorf("readyz: %v %v", r, err)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
	if strings.Contains(stderr.String(), devstack.DevAccessKeySecret) {
		t.Error("log contains the dev AccessKeySecret")
	}
}

func tusDo(t *testing.T, method, url string, h map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
