package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestExtraRoutes: Config.Routes are served behind the request ID
// middleware, next to the tus endpoint; a pattern that conflicts with the
// server's own routes fails New.
func TestExtraRoutes(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("page")) })
	ts, _ := newTestServer(t, func(c *Config) { c.Routes = map[string]http.Handler{"GET /{$}": page} })
	res := do(t, http.MethodGet, ts.URL+"/", nil, "")
	if res.StatusCode != http.StatusOK || res.Header.Get(HeaderRequestID) == "" {
		t.Errorf("GET / = %d, request ID %q", res.StatusCode, res.Header.Get(HeaderRequestID))
	}
	if res := do(t, http.MethodGet, ts.URL+"/nothing", nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", res.StatusCode)
	}
	if res := do(t, http.MethodPost, ts.URL+"/files/", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1"}, ""); res.StatusCode != http.StatusCreated {
		t.Errorf("POST /files/ = %d, want 201", res.StatusCode)
	}

	for _, pattern := range []string{"GET /healthz", "/files/", "GET /{"} {
		_, err := New(Config{StoreComposer: newMemStore().composer(), Logger: discardLogger(),
			Routes: map[string]http.Handler{pattern: page}})
		if err == nil || !strings.Contains(err.Error(), "route") {
			t.Errorf("pattern %q: New error = %v, want a route error", pattern, err)
		}
	}
}
