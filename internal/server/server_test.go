package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tus/tusd/v2/pkg/handler"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestServer starts an httptest server around a Server on a memStore.
func newTestServer(t *testing.T, mod func(*Config)) (*httptest.Server, *memStore) {
	t.Helper()
	store := newMemStore()
	cfg := Config{
		StoreComposer: store.composer(),
		CORSOrigins:   []string{"https://app.example.com", "https://*.example.org"},
		Logger:        discardLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, store
}

func do(t *testing.T, method, url string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
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

func create(t *testing.T, base string, length string) string {
	t.Helper()
	res := do(t, "POST", base+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": length}, "")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST status = %d, want 201", res.StatusCode)
	}
	return res.Header.Get("Location")
}

func TestCORS(t *testing.T) {
	ts, _ := newTestServer(t, nil)
	tests := []struct {
		name, method, origin string
		header               map[string]string
		status               int
		allowOrigin          string
		wantIn               map[string][]string // header -> substrings that must appear
	}{
		{
			name: "preflight allowed", method: "OPTIONS", origin: "https://app.example.com",
			header: map[string]string{"Access-Control-Request-Method": "PATCH"},
			status: 200, allowOrigin: "https://app.example.com",
			wantIn: map[string][]string{
				"Access-Control-Allow-Methods": {"POST", "HEAD", "PATCH", "DELETE", "OPTIONS"},
				"Access-Control-Allow-Headers": {"Authorization", "X-Request-ID", "X-HTTP-Method-Override",
					"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length", "Content-Type"},
			},
		},
		{
			name: "preflight wildcard subdomain", method: "OPTIONS", origin: "https://a.b.example.org",
			status: 200, allowOrigin: "https://a.b.example.org",
		},
		{
			name: "actual request exposes headers", method: "POST", origin: "https://app.example.com",
			header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "10"},
			status: 201, allowOrigin: "https://app.example.com",
			wantIn: map[string][]string{
				"Access-Control-Expose-Headers": {"Upload-Offset", "Upload-Length", "Upload-Expires", "Location",
					"Tus-Version", "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Upload-Metadata",
					"Vod-Media-Id", "Vod-Media-Type", "X-Request-ID"},
			},
		},
		{
			name: "origin not allowed", method: "POST", origin: "https://evil.example.net",
			header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "10"},
			status: 403,
		},
		{
			name: "suffix trick not allowed", method: "OPTIONS", origin: "https://app.example.com.evil.net",
			status: 403,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Origin": tc.origin}
			for k, v := range tc.header {
				h[k] = v
			}
			res := do(t, tc.method, ts.URL+"/files/", h, "")
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Errorf("Allow-Origin = %q, want %q", got, tc.allowOrigin)
			}
			for hdr, subs := range tc.wantIn {
				got := res.Header.Get(hdr)
				for _, sub := range subs {
					if !strings.Contains(got, sub) {
						t.Errorf("%s = %q, missing %q", hdr, got, sub)
					}
				}
			}
		})
	}
}

func TestCORSDisabledWithoutOrigins(t *testing.T) {
	ts, _ := newTestServer(t, func(c *Config) { c.CORSOrigins = nil })
	res := do(t, "POST", ts.URL+"/files/", map[string]string{
		"Origin": "https://app.example.com", "Tus-Resumable": "1.0.0", "Upload-Length": "1"}, "")
	if res.StatusCode != 201 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("status %d, Allow-Origin %q; want 201 and no CORS headers",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestValidateOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"*", true}, {"https://a.example.com", true}, {"http://localhost:3000", true},
		{"https://*.example.com", true}, {"https://a.example.com/", true},
		{"example.com", false}, {"ftp://example.com", false}, {"https://example.com/path", false},
		{"https://a.*.example.com", false}, {"https://", false},
	} {
		if err := ValidateOrigin(tc.origin); (err == nil) != tc.ok {
			t.Errorf("ValidateOrigin(%q) = %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}

func TestMediaHeaders(t *testing.T) {
	lookup := MediaLookupFunc(func(_ context.Context, id string) (string, string, bool) {
		if id == "up1" {
			return "vid-123", "video", true
		}
		return "", "", false
	})
	ts, _ := newTestServer(t, func(c *Config) { c.Media = lookup })
	loc := create(t, ts.URL, "5")
	if !strings.HasSuffix(loc, "/files/up1") {
		t.Fatalf("Location = %q", loc)
	}
	patch := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream"}
	tests := []struct {
		name, method, url string
		header            map[string]string
		body              string
		status            int
		wantID            string
	}{
		{"HEAD", "HEAD", loc, map[string]string{"Tus-Resumable": "1.0.0"}, "", 200, "vid-123"},
		{"PATCH", "PATCH", loc, patch, "abc", 204, "vid-123"},
		{"PATCH via override", "POST", loc, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "3",
			"Content-Type": "application/offset+octet-stream", "X-HTTP-Method-Override": "PATCH"}, "de", 204, "vid-123"},
		{"failed PATCH", "PATCH", loc, patch, "x", 409, ""},
		{"unknown upload", "HEAD", ts.URL + "/files/nope", map[string]string{"Tus-Resumable": "1.0.0"}, "", 404, ""},
		{"other media unknown", "POST", ts.URL + "/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1"}, "", 201, ""},
		{"DELETE", "DELETE", loc, map[string]string{"Tus-Resumable": "1.0.0"}, "", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, tc.method, tc.url, tc.header, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get(HeaderMediaID); got != tc.wantID {
				t.Errorf("Vod-Media-Id = %q, want %q", got, tc.wantID)
			}
			wantType := ""
			if tc.wantID != "" {
				wantType = "video"
			}
			if got := res.Header.Get(HeaderMediaType); got != wantType {
				t.Errorf("Vod-Media-Type = %q, want %q", got, wantType)
			}
		})
	}
}

func TestMediaHeaderOnCreation(t *testing.T) {
	ts, _ := newTestServer(t, func(c *Config) {
		c.Media = MediaLookupFunc(func(_ context.Context, id string) (string, string, bool) {
			return "m-" + id, "attached", true
		})
	})
	res := do(t, "POST", ts.URL+"/files", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "3",
		"Content-Type": "application/offset+octet-stream"}, "abc") // creation-with-upload, no trailing slash
	if res.StatusCode != 201 || res.Header.Get(HeaderMediaID) != "m-up1" || res.Header.Get(HeaderMediaType) != "attached" {
		t.Fatalf("status %d, media %q/%q", res.StatusCode, res.Header.Get(HeaderMediaID), res.Header.Get(HeaderMediaType))
	}
	if res.Header.Get("Upload-Offset") != "3" {
		t.Errorf("Upload-Offset = %q, want 3", res.Header.Get("Upload-Offset"))
	}
}

func TestExpiration(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ts, _ := newTestServer(t, func(c *Config) {
		c.Expiry = expiryFunc(func(_ context.Context, id string) (time.Time, bool) { return exp, id == "up1" })
	})
	res := do(t, "OPTIONS", ts.URL+"/files/", nil, "")
	if ext := res.Header.Get("Tus-Extension"); !strings.Contains(ext, "creation") || !strings.HasSuffix(ext, ",expiration") {
		t.Errorf("Tus-Extension = %q", ext)
	}
	loc := create(t, ts.URL, "4")
	want := "Wed, 02 Jan 2030 03:04:05 GMT"
	for _, tc := range []struct {
		method string
		header map[string]string
		body   string
		want   string
	}{
		{"PATCH", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, "ab", want},
		{"HEAD", map[string]string{"Tus-Resumable": "1.0.0"}, "", ""},
	} {
		if got := do(t, tc.method, loc, tc.header, tc.body).Header.Get("Upload-Expires"); got != tc.want {
			t.Errorf("%s: Upload-Expires = %q, want %q", tc.method, got, tc.want)
		}
	}
	res = do(t, "POST", ts.URL+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1"}, "")
	if got := res.Header.Get("Upload-Expires"); got != "" { // up2: lookup says no expiry
		t.Errorf("POST up2: Upload-Expires = %q", got)
	}
}

type expiryFunc func(ctx context.Context, id string) (time.Time, bool)

func (f expiryFunc) ExpiresOf(ctx context.Context, id string) (time.Time, bool) { return f(ctx, id) }

func TestHealthAndReadiness(t *testing.T) {
	var redisErr error
	ts, _ := newTestServer(t, func(c *Config) {
		c.Ready = map[string]Pinger{"redis": PingerFunc(func(context.Context) error { return redisErr })}
	})
	for _, tc := range []struct {
		name, path string
		err        error
		status     int
		retryAfter string
	}{
		{"live", "/healthz", nil, 200, ""},
		{"live while redis down", "/healthz", errors.New("connection refused"), 200, ""},
		{"ready", "/readyz", nil, 200, ""},
		{"not ready", "/readyz", errors.New("connection refused"), 503, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redisErr = tc.err
			res := do(t, "GET", ts.URL+tc.path, nil, "")
			if res.StatusCode != tc.status || res.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("status %d Retry-After %q, want %d %q", res.StatusCode, res.Header.Get("Retry-After"), tc.status, tc.retryAfter)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"store sets its own", handler.Error{ErrorCode: "ERR_BUSY", Message: "busy", HTTPResponse: handler.HTTPResponse{
			StatusCode: 503, Body: "busy\n", Header: handler.HTTPHeader{"Retry-After": "7"}}}, "7"},
		{"default added", handler.NewError("ERR_REDIS_UNAVAILABLE", "redis unavailable", 503), "5"},
		{"not on other errors", handler.NewError("ERR_BAD", "bad", 400), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, store := newTestServer(t, nil)
			store.newErr = tc.err
			res := do(t, "POST", ts.URL+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1"}, "")
			if got := res.Header.Get("Retry-After"); got != tc.want {
				t.Errorf("status %d, Retry-After = %q, want %q", res.StatusCode, got, tc.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	ts, _ := newTestServer(t, nil)
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"kept", "abc-123_x.y:z", true},
		{"generated", "", false},
		{"unsafe replaced", "a b\"<script>", false},
		{"too long replaced", strings.Repeat("a", 37), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, "GET", ts.URL+"/healthz", map[string]string{HeaderRequestID: tc.in}, "")
			got := res.Header.Get(HeaderRequestID)
			if tc.keep && got != tc.in || !tc.keep && (got == tc.in || len(got) != 32) {
				t.Errorf("X-Request-ID = %q (in %q)", got, tc.in)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts, _ := newTestServer(t, func(c *Config) { c.Registry = reg })
	create(t, ts.URL, "1")
	req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{`tusd_requests_total{method="POST"} 1`, "tusd_uploads_created 1",
		`vodgate_http_request_duration_seconds_count{code="201",method="POST"} 1`, "tusd_connections_open",
		`vodgate_http_requests_by_protocol_total{protocol="HTTP/1.1",tls="false"} `} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics missing %q", want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no composer", Config{}},
		{"relative base path", Config{StoreComposer: newMemStore().composer(), BasePath: "files/"}},
		{"bad origin", Config{StoreComposer: newMemStore().composer(), CORSOrigins: []string{"example.com"}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

// TestTusMiddleware checks that a middleware in front of tusd (auth) sees
// requests before tusd, that its context reaches the media lookup, and that
// its own error responses carry CORS headers.
func TestTusMiddleware(t *testing.T) {
	type ctxKey struct{}
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodOptions && r.Header.Get("Authorization") != "Bearer good" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="vodgate"`)
				http.Error(w, "ERR_UNAUTHORIZED: missing token", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "alice")))
		})
	}
	ts, _ := newTestServer(t, func(c *Config) {
		c.TusMiddleware = auth
		c.Media = MediaLookupFunc(func(ctx context.Context, id string) (string, string, bool) {
			owner, _ := ctx.Value(ctxKey{}).(string)
			return "media-of-" + owner, "video", owner != ""
		})
	})
	origin := "https://app.example.com"
	res := do(t, "POST", ts.URL+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1", "Origin": origin}, "")
	if res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("401 from middleware: status %d, headers %v", res.StatusCode, res.Header)
	}
	res = do(t, "OPTIONS", ts.URL+"/files/", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}, "")
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("preflight: status %d, headers %v", res.StatusCode, res.Header)
	}
	res = do(t, "POST", ts.URL+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1",
		"Origin": origin, "Authorization": "Bearer good"}, "")
	if res.StatusCode != 201 || res.Header.Get(HeaderMediaID) != "media-of-alice" {
		t.Errorf("authorized POST: status %d, media %q", res.StatusCode, res.Header.Get(HeaderMediaID))
	}
	if got := res.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 {
		t.Errorf("Allow-Origin set %d times: %v", len(got), got)
	}
}
