package devpage

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// TestBundleFresh rebuilds the bundle from web/ and node_modules (npm ci of
// the committed package-lock.json) into a temporary directory and fails
// when the committed dist/ differs: run node internal/devpage/build.mjs.
func TestBundleFresh(t *testing.T) {
	node := testenv.Node(t)
	root, _ := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@uppy", "dashboard", "package.json")); err != nil {
		t.Fatalf("@uppy/dashboard is not installed (npm ci): %v", err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, node, "build.mjs", out).CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	for _, name := range []string{"app.js", "app.css"} {
		fresh, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := bundle.ReadFile("dist/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("dist/%s is stale (%d bytes committed, %d rebuilt): run `npm ci && node internal/devpage/build.mjs` and commit dist/",
				name, len(committed), len(fresh))
		}
	}
}

// TestBuildIsDeterministic guards TestBundleFresh: two builds are equal.
func TestBuildIsDeterministic(t *testing.T) {
	node := testenv.Node(t)
	var got [2][]byte
	for i := range got {
		out := t.TempDir()
		if b, err := exec.Command(node, "build.mjs", out).CombinedOutput(); err != nil {
			t.Fatalf("node build.mjs: %v\n%s", err, b)
		}
		var err error
		if got[i], err = os.ReadFile(filepath.Join(out, "app.js")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Fatal("two builds of app.js differ")
	}
}

// get serves path with the page's routes on a ServeMux, as the server does.
func get(t *testing.T, rs map[string]http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, rh := range rs {
		mux.Handle(pattern, rh)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

var configJSON = regexp.MustCompile(`<script id="devpage-config" type="application/json">(.*?)</script>`)

func TestPageRoutes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want pageConfig
	}{
		{"dev", Config{Endpoint: "/files/", VODURL: "http://127.0.0.1:9081/", OSSURL: "http://127.0.0.1:9080"},
			pageConfig{Endpoint: "/files/", VODURL: "http://127.0.0.1:9081", OSSURL: "http://127.0.0.1:9080", MediaStatus: true}},
		{"demo page with auth", Config{Endpoint: "/up/", Auth: true},
			pageConfig{Endpoint: "/up/", Auth: true}},
		{"hostile endpoint is escaped", Config{Endpoint: `/x/</script><script>alert(1)</script>`},
			pageConfig{Endpoint: `/x/</script><script>alert(1)</script>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Routes()
			rec := get(t, r, "/")
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET / = %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			body := rec.Body.String()
			if strings.Contains(body, "<script>alert") {
				t.Fatalf("endpoint not escaped:\n%s", body)
			}
			m := configJSON.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no config script in:\n%s", body)
			}
			var got pageConfig
			if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
				t.Fatalf("config %q: %v", m[1], err)
			}
			if got != tt.want {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
			for path, ctype := range map[string]string{"/devpage/app.js": "text/javascript", "/devpage/app.css": "text/css"} {
				rec := get(t, r, path)
				want, _ := bundle.ReadFile("dist/" + path[len("/devpage/"):])
				if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) ||
					!bytes.Equal(rec.Body.Bytes(), want) || len(want) < 1000 {
					t.Errorf("GET %s = %d %q, %d bytes (embedded %d)", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(want))
				}
			}
			if rec := get(t, r, "/other"); rec.Code != http.StatusNotFound {
				t.Errorf("GET /other = %d, want 404", rec.Code)
			}
			if tt.cfg.VODURL == "" {
				if rec := get(t, r, "/devpage/media/abc"); rec.Code != http.StatusNotFound {
					t.Errorf("media status without a VOD simulator = %d, want 404", rec.Code)
				}
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{{}, {Endpoint: "/files/", VODURL: "ftp://x"}, {Endpoint: "/files/", OSSURL: "127.0.0.1:9080"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

// TestMediaStatus asks the real VOD simulator through the page's status
// route: unknown and malformed IDs are 404, a simulator that is gone 502.
func TestMediaStatus(t *testing.T) {
	oss := osstest.NewServer(osstest.Config{Dir: t.TempDir()})
	t.Cleanup(oss.Close)
	vod := vodtest.NewServer(vodtest.Config{OSS: oss, AccessKeys: map[string]string{"k": "s"}})
	p, err := New(Config{Endpoint: "/files/", VODURL: "http://" + vod.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Routes()
	for path, want := range map[string]int{
		"/devpage/media/0123456789abcdef0123456789abcdef": http.StatusNotFound,
		"/devpage/media/..%2f_sim%2fcalls":                http.StatusNotFound,
		"/devpage/media/" + strings.Repeat("a", 65):       http.StatusNotFound,
	} {
		if rec := get(t, r, path); rec.Code != want {
			t.Errorf("GET %s = %d, want %d: %s", path, rec.Code, want, rec.Body)
		}
	}
	vod.Close()
	rec := get(t, r, "/devpage/media/0123456789abcdef")
	if rec.Code != http.StatusBadGateway {
		b, _ := io.ReadAll(rec.Body)
		t.Errorf("simulator gone: %d %s, want 502", rec.Code, b)
	}
}
