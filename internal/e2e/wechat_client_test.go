package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// The WeChat mini-program client's retries and helpers (see wechat_test.go
// for the uploads).

// wxFaultProxy forwards to a gateway and answers some overridden PATCHes
// itself (by their 1-based number): a status of its own (with Retry-After
// for 503), or "hold": forwarded, then the answer withheld for hold, so
// the client times out on a PATCH the gateway did apply.
type wxFaultProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	patches int
}

func newWxFaultProxy(t *testing.T, gw *gatewayProc, faults map[int]int, hold time.Duration) *wxFaultProxy {
	t.Helper()
	target, err := url.Parse(gw.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host }}
	p := &wxFaultProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-HTTP-Method-Override") != "PATCH" {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		p.patches++
		n := p.patches
		p.mu.Unlock()
		switch st := faults[n]; st {
		case 0:
			rp.ServeHTTP(w, r)
		case -1: // hold
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			time.Sleep(hold)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
		default:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Tus-Resumable", "1.0.0")
			if st == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(st)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// TestWeChatMiniProgramRetries puts a proxy between the client and the
// gateway that answers overridden PATCH 2 with 503 and Retry-After: 1,
// PATCH 4 with 423, PATCH 6 with 409, and withholds the answer to PATCH 8
// (which the gateway applied) past the client's 3 s timeout. The client
// waits at least Retry-After, resyncs with HEAD after each failure, and
// finishes with the right bytes.
func TestWeChatMiniProgramRetries(t *testing.T) {
	s, _, tok := wechatStack(t)
	src := makeSource(t, 10*MiB+3, 1721)
	p := newWxFaultProxy(t, s.GW, map[int]int{2: http.StatusServiceUnavailable, 4: http.StatusLocked, 6: http.StatusConflict, 8: -1}, 5*time.Second)
	start := time.Now()
	r := runWeChat(t, wxOptions{
		Endpoint: p.srv.URL + "/files/", File: src.Path, Token: tok, ChunkSize: MiB,
		Metadata: map[string]string{"filename": "retry.mp4"}, RetryDelays: []int{50, 50, 50, 50}, Timeout: 3000,
	})
	res := requireWxOK(t, r)
	retries := r.events("retry")
	var got []string
	var statuses []int
	timeouts := 0
	for _, e := range retries {
		got = append(got, fmt.Sprintf("%d/%dms", e.Status, e.Delay))
		if e.Status != 0 {
			statuses = append(statuses, e.Status)
		} else if strings.Contains(e.Error, "timeout") {
			timeouts++
		}
	}
	t.Logf("retries (status/delay): %v in %v", got, time.Since(start).Round(time.Millisecond))
	// A loaded machine may add timeouts of its own; the injected faults
	// must all be there, in order.
	if want := []int{http.StatusServiceUnavailable, http.StatusLocked, http.StatusConflict}; fmt.Sprint(statuses) != fmt.Sprint(want) || timeouts < 1 {
		t.Fatalf("retries %v; want statuses %v and at least one request:fail timeout", got, want)
	}
	if len(retries) == 4 {
		for i, e := range retries {
			if e.Attempt != 1 {
				t.Errorf("retry %d: attempt %d, want 1 (progress resets the count)", i, e.Attempt)
			}
		}
	}
	for _, e := range retries {
		if e.Status == http.StatusServiceUnavailable && e.Delay < 1000 {
			t.Errorf("503 with Retry-After: 1 retried after %d ms, want >= 1000", e.Delay)
		}
	}
	heads := 0
	for _, rq := range res.Requests {
		if rq.Method == http.MethodHead {
			heads++
		}
	}
	if heads != len(retries) {
		t.Errorf("%d HEADs, want one after each of the %d failures", heads, len(retries))
	}
	checkNoPatchSent(t, res.Requests)
	s.checkUploaded(t, res.MediaID, src)
}

// TestWeChatClientHelpers checks the client's helpers, run in the
// mini-program context, against Go's own answers: header lookup in any case
// (and joined array values), Upload-Metadata with UTF-8 values (surrogate
// pairs included) base64-encoded as the tus spec wants and bad keys
// refused, and Location resolution as RFC 3986 does it.
func TestWeChatClientHelpers(t *testing.T) {
	node := testenv.Node(t)
	root, ok := testenv.RepoRoot()
	if !ok {
		t.Fatal("repository root not found")
	}
	type headerCase struct {
		Headers map[string]any `json:"headers"`
		Name    string         `json:"name"`
		Want    string         `json:"-"`
	}
	headers := []headerCase{
		{map[string]any{"upload-offset": "5"}, "Upload-Offset", "5"},
		{map[string]any{"UPLOAD-OFFSET": "7"}, "Upload-Offset", "7"},
		{map[string]any{"Vod-Media-Id": "abc"}, "vod-media-id", "abc"},
		{map[string]any{"x-multi": []string{"a", "b"}}, "X-Multi", "a, b"},
		{map[string]any{"location": "/files/1"}, "Upload-Offset", ""},
	}
	metas := []map[string]string{
		{"filename": "clip.mp4"},
		{"title": "小程序 upload ✓"},
		{"title": "🎬 clip, with a comma"},
		{"empty": ""},
		{"a": "x", "b": "yz", "filename": "ab"},
		{"bad key": "v"},
		{"a,b": "v"},
	}
	resolve := [][2]string{
		{"https://up.example.com/files/", "https://other.example.com:8443/files/a1"},
		{"https://up.example.com/files/", "/files/b2"},
		{"https://up.example.com/files/", "c3"},
		{"https://up.example.com/files/", "//cdn.example.com/files/d4"},
		{"http://127.0.0.1:8080/files/?x=1", "e5"},
		{"http://127.0.0.1:8080/v1/files", "f6"},
	}
	in := map[string]any{"appDir": filepath.Join(root, "examples", "wechat-miniprogram"), "header": headers, "metadata": metas, "resolve": resolve}
	arg, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, jsPath("wechat-unit.cjs"), string(arg)).Output()
	if err != nil {
		t.Fatalf("wechat-unit.cjs: %v %s", err, out)
	}
	var got struct {
		Header   []string `json:"header"`
		Metadata []string `json:"metadata"`
		Resolve  []string `json:"resolve"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("wechat-unit.cjs output %q: %v", out, err)
	}
	for i, c := range headers {
		if got.Header[i] != c.Want {
			t.Errorf("header(%v, %q) = %q, want %q", c.Headers, c.Name, got.Header[i], c.Want)
		}
	}
	for i, m := range metas {
		keys := slices.Sorted(maps.Keys(m)) // JSON carries the keys sorted; the client keeps their order
		var parts []string
		bad := false
		for _, k := range keys {
			if strings.ContainsAny(k, " ,") {
				bad = true
			}
			if m[k] == "" {
				parts = append(parts, k)
			} else {
				parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(m[k])))
			}
		}
		if bad {
			if !strings.HasPrefix(got.Metadata[i], "error: ") {
				t.Errorf("encodeMetadata(%v) = %q, want an error", m, got.Metadata[i])
			}
			continue
		}
		if want := strings.Join(parts, ","); got.Metadata[i] != want {
			t.Errorf("encodeMetadata(%v) = %q, want %q", m, got.Metadata[i], want)
		}
	}
	for i, c := range resolve {
		b, _ := url.Parse(c[0])
		l, _ := url.Parse(c[1])
		if want := b.ResolveReference(l).String(); got.Resolve[i] != want {
			t.Errorf("resolveURL(%q, %q) = %q, want %q", c[0], c[1], got.Resolve[i], want)
		}
	}
}
