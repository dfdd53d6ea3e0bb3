package devpage

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The bundle built by build.mjs and the page's HTML.
var (
	//go:embed dist/app.js dist/app.css
	bundle embed.FS
	//go:embed web/index.html
	indexHTML string
)

// DefaultStatusTimeout bounds one media-status request to the VOD simulator.
const DefaultStatusTimeout = 5 * time.Second

// mediaIDPattern is what the status route accepts as a media ID.
var mediaIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Config configures a [Page].
type Config struct {
	// Endpoint is the tus creation URL the page uploads to, as the browser
	// reaches it: a path on the page's origin ("/files/") or an absolute
	// URL. Required.
	Endpoint string
	// Auth shows a token field; its value is sent as a bearer token.
	Auth bool
	// VODURL and OSSURL are the base URLs of the VOD and OSS simulators
	// (their inspection APIs are under /_sim/). Empty: no links, and with
	// no VODURL no media status.
	VODURL, OSSURL string
	// Client fetches media status from the VOD simulator. Default: a client
	// with a DefaultStatusTimeout timeout.
	Client *http.Client
	// Logger receives failures of status requests. Default: slog.Default().
	Logger *slog.Logger
}

// Page is the development page. Its routes are fixed: "GET /{$}" (the
// HTML), "GET /devpage/app.js", "GET /devpage/app.css" and
// "GET /favicon.ico" (204), "GET /devpage/media/{id}" (the simulated VOD's status of a media as
// {"mediaId","type","status","size"}; 404 when VODURL is empty or the
// media is unknown).
type Page struct {
	cfg  Config
	html []byte
	js   []byte
	css  []byte
}

// pageConfig is what the page's script reads from <script id="devpage-config">.
type pageConfig struct {
	Endpoint    string `json:"endpoint"`
	Auth        bool   `json:"auth"`
	VODURL      string `json:"vodURL"`
	OSSURL      string `json:"ossURL"`
	MediaStatus bool   `json:"mediaStatus"`
}

// New renders the page for cfg.
func New(cfg Config) (*Page, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("devpage: config: Endpoint is required")
	}
	for _, u := range []string{cfg.VODURL, cfg.OSSURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("devpage: config: simulator URL %q: want http(s)://host[:port]", u)
		}
	}
	cfg.VODURL, cfg.OSSURL = strings.TrimRight(cfg.VODURL, "/"), strings.TrimRight(cfg.OSSURL, "/")
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultStatusTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Page{cfg: cfg}
	var err error
	if p.js, err = bundle.ReadFile("dist/app.js"); err != nil {
		return nil, fmt.Errorf("devpage: bundle: %w", err)
	}
	if p.css, err = bundle.ReadFile("dist/app.css"); err != nil {
		return nil, fmt.Errorf("devpage: bundle: %w", err)
	}
	if p.html, err = render(pageConfig{Endpoint: cfg.Endpoint, Auth: cfg.Auth, VODURL: cfg.VODURL,
		OSSURL: cfg.OSSURL, MediaStatus: cfg.VODURL != ""}); err != nil {
		return nil, err
	}
	return p, nil
}

// render fills index.html; html/template escapes the JSON for its script
// element and the endpoint for the text.
func render(pc pageConfig) ([]byte, error) {
	t, err := template.New("index").Parse(indexHTML)
	if err != nil {
		return nil, fmt.Errorf("devpage: template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, pc); err != nil {
		return nil, fmt.Errorf("devpage: template: %w", err)
	}
	return b.Bytes(), nil
}

// Routes returns the page's handlers by http.ServeMux pattern.
func (p *Page) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /{$}":                static(p.html, "text/html; charset=utf-8"),
		"GET /devpage/app.js":     static(p.js, "text/javascript; charset=utf-8"),
		"GET /devpage/app.css":    static(p.css, "text/css; charset=utf-8"),
		"GET /devpage/media/{id}": http.HandlerFunc(p.mediaStatus),
		"GET /favicon.ico":        http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
	}
}

func static(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	})
}

// mediaStatus answers the simulated VOD's view of one media.
func (p *Page) mediaStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if p.cfg.VODURL == "" || !mediaIDPattern.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	m, found, err := p.fetchMedia(r.Context(), id)
	switch {
	case err != nil:
		p.cfg.Logger.WarnContext(r.Context(), "DevPageMediaStatusFailed", "mediaId", id, "error", err)
		http.Error(w, "VOD simulator unavailable", http.StatusBadGateway)
		return
	case !found:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(m)
}

// media is the part of the VOD simulator's /_sim/media/{id} the page shows.
type media struct {
	MediaID string `json:"mediaId"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Size    int64  `json:"size"`
}

func (p *Page) fetchMedia(ctx context.Context, id string) (media, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.VODURL+"/_sim/media/"+url.PathEscape(id), nil)
	if err != nil {
		return media{}, false, fmt.Errorf("devpage: media request: %w", err)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return media{}, false, fmt.Errorf("devpage: media request: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return media{}, false, nil
	case resp.StatusCode != http.StatusOK:
		return media{}, false, fmt.Errorf("devpage: media request: status %d", resp.StatusCode)
	}
	var in struct {
		ID, Type, Status string
		Size             int64
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&in); err != nil {
		return media{}, false, fmt.Errorf("devpage: media response: %w", err)
	}
	return media{MediaID: in.ID, Type: in.Type, Status: in.Status, Size: in.Size}, true, nil
}
