package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// uppyResult is window.__e2e of js/uppy-page.mjs.
type uppyResult struct {
	Event     string `json:"event"`
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	UploadURL string `json:"uploadURL"`
	Requests  []struct {
		Method    string `json:"method"`
		Status    int    `json:"status"`
		Offset    *int64 `json:"offset"`
		MediaID   string `json:"mediaId"`
		MediaType string `json:"mediaType"`
		Auth      int    `json:"auth"` // token carried: 0 none, 1 token, 2 token2
		T         int64  `json:"t"`
	} `json:"requests"`
	PausedAt  *int64 `json:"pausedAt"`
	ResumedAt *int64 `json:"resumedAt"`
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

const uppyPageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>vodgate e2e: Uppy</title></head>
<body><p>vodgate e2e: Uppy upload</p><script type="module" src="/page.js"></script></body></html>
`

// TestUppyChromiumCrossOrigin uploads 16 MiB with @uppy/core + @uppy/tus in
// headless Chromium, from a page on another origin than the gateway's, with a
// pause and a resume during the upload. It checks the object in the
// simulator and that Vod-Media-Id was readable from the page (CORS exposes it).
func TestUppyChromiumCrossOrigin(t *testing.T) {
	testenv.Node(t)
	testenv.Chromium(t)
	s := newStack(t, stackOptions{})
	const size = 16 * MiB
	res, stderr := runUppyPage(t, s, url.Values{
		"size":    {strconv.Itoa(size)},
		"chunk":   {strconv.Itoa(4 * MiB)},
		"pauseAt": {strconv.Itoa(5 * MiB)},
		"pauseMs": {"1000"},
	})
	if !res.OK {
		t.Fatalf("uppy upload failed: %s\nrequests: %+v\ndriver stderr:\n%s", res.Error, res.Requests, stderr)
	}
	var trace []tusRequest
	for _, rq := range res.Requests {
		trace = append(trace, tusRequest{Method: rq.Method, Status: rq.Status, Offset: rq.Offset})
	}
	t.Logf("paused at %v bytes; requests: %s", deref(res.PausedAt), describeRequests(trace))
	if testing.Verbose() {
		t.Logf("driver stderr:\n%s", stderr)
	}

	// A pause and a resume happened during the upload, and the resume HEADed.
	if res.PausedAt == nil || res.ResumedAt == nil {
		t.Errorf("no pause/resume during the upload (pausedAt %v, resumedAt %v)", res.PausedAt, res.ResumedAt)
	} else {
		var headAfterResume bool
		for _, rq := range res.Requests {
			if rq.Method == http.MethodHead && rq.T >= *res.ResumedAt {
				headAfterResume = true
				if rq.Status != http.StatusOK || rq.Offset == nil || *rq.Offset > *res.PausedAt+4*MiB {
					t.Errorf("HEAD after resume: status %d offset %v (paused at %d bytes)", rq.Status, rq.Offset, *res.PausedAt)
				}
				break
			}
		}
		if !headAfterResume {
			t.Errorf("no HEAD after resume; requests: %+v", res.Requests)
		}
	}

	// Vod-Media-Id was readable cross-origin on POST and on the final PATCH.
	var postID, finalID string
	for _, rq := range res.Requests {
		if rq.Method == http.MethodPost && rq.Status == http.StatusCreated {
			postID = rq.MediaID
		}
		if rq.Method == http.MethodPatch && rq.Status < 300 {
			finalID = rq.MediaID
		}
	}
	if postID == "" || finalID == "" {
		t.Fatalf("Vod-Media-Id not readable cross-origin (POST %q, final PATCH %q): is it in Access-Control-Expose-Headers? requests: %+v",
			postID, finalID, res.Requests)
	}
	if postID != finalID {
		t.Errorf("Vod-Media-Id on POST %q != on final PATCH %q", postID, finalID)
	}
	s.checkUploaded(t, finalID, source{Size: size, SHA256: res.SHA256})
}

// runUppyPage bundles js/uppy-page.mjs, serves it from an origin other than
// the gateway's with q (plus endpoint, the stack's gateway) as its query,
// drives it in headless Chromium and returns the page's result and the
// driver's stderr. A failed upload is returned, not fatal (res.OK false).
func runUppyPage(t *testing.T, s *stack, q url.Values) (uppyResult, string) {
	t.Helper()
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)

	// Bundle the page.
	bundle := filepath.Join(t.TempDir(), "page.js")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, node, jsPath("build-page.mjs"), bundle).CombinedOutput(); err != nil {
		t.Fatalf("esbuild page: %v\n%s", err, out)
	}

	// Serve it from another origin.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(uppyPageHTML))
	})
	mux.HandleFunc("/page.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, bundle)
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)

	q = maps.Clone(q)
	q.Set("endpoint", s.GW.Endpoint())
	pageURL := page.URL + "/?" + q.Encode()
	t.Logf("page origin %s, gateway %s", page.URL, s.GW.URL())

	arg, _ := json.Marshal(map[string]any{"pageUrl": pageURL, "chromium": chromium, "timeoutMs": 120000})
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, jsPath("uppy-drive.mjs"), string(arg))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res uppyResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		_ = json.Unmarshal(sc.Bytes(), &res)
	}
	if err != nil && res.Error == "" {
		res.OK = false
		res.Error = "driver exit: " + err.Error()
	}
	return res, stderr.String()
}
