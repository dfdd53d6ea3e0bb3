// Package uploadapi serves the JSON API beside the tus endpoint that lets
// an owner (or an admin) list, find, cancel and clear uploads:
//
//	GET    /uploads?state=…&fingerprint=…&owner=…&limit=…&cursor=…
//	GET    /uploads/{id}
//	DELETE /uploads/{id}[?deleteMedia=true]
//	POST   /uploads/clear   {"states":[…]}
//
// Every answer is scoped to the caller's owner; an admin sees everyone's.
// The list itself lives in internal/uploadlist; cancellation goes through
// the store under the upload's lock, as tus termination does.
package uploadapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vodgate/vodgate/internal/uploadlist"
)

// Limits of a listing page.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Lister reads and edits the upload list; *uploadlist.Catalog implements it.
type Lister interface {
	List(ctx context.Context, q uploadlist.Query) (uploadlist.Page, error)
	Get(ctx context.Context, id string) (uploadlist.Item, bool, error)
	Forget(ctx context.Context, id, owner string) error
}

// Identity is who calls the API.
type Identity struct {
	Owner string
	Admin bool
}

// Config configures the API. Lister, Cancel, DeleteMedia and UploadURL are
// required.
type Config struct {
	// BasePath is where the API is mounted. Default: /uploads.
	BasePath string
	// UploadURL returns the tus upload URL of an upload, as the request's
	// client reaches the gateway.
	UploadURL func(r *http.Request, id string) string
	// URLJobURL returns the status URL of a URL upload job (items of kind
	// "url"). Default: /url-uploads/{id}.
	URLJobURL func(r *http.Request, id string) string
	Lister    Lister
	// Cancel ends an unfinished upload under its lock, as tus DELETE does
	// (tusstore.Store.Cancel); it reports whether the upload had in fact
	// finished already, or an error wrapping handler.ErrNotFound when it
	// has no record.
	Cancel func(ctx context.Context, id string, deleteMedia bool) (finished bool, err error)
	// DeleteMedia deletes a VOD media (one already gone is not an error).
	DeleteMedia func(ctx context.Context, mediaType, mediaID string) error
	// IdentityOf returns the authenticated caller of a request, after
	// Authenticate ran; ok=false when there is none.
	IdentityOf func(ctx context.Context) (Identity, bool)
	// Authenticate, if set, wraps the API as it wraps the tus endpoint.
	Authenticate func(http.Handler) http.Handler
	// AdminKeys are bearer keys that make a request an admin's without a
	// token (api-admin-key-file).
	AdminKeys []string
	// Open, with no authentication, lets anyone act as admin: -dev only.
	Open     bool
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// API is the upload API's HTTP handler.
type API struct {
	cfg      Config
	log      *slog.Logger
	requests *prometheus.CounterVec
	handler  http.Handler
}

// New returns the API. It does no I/O.
func New(cfg Config) (*API, error) {
	if cfg.Lister == nil || cfg.Cancel == nil || cfg.DeleteMedia == nil || cfg.UploadURL == nil {
		return nil, errors.New("uploadapi: Lister, Cancel, DeleteMedia and UploadURL are required")
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/uploads"
	}
	if cfg.URLJobURL == nil {
		cfg.URLJobURL = func(_ *http.Request, id string) string { return "/url-uploads/" + id }
	}
	cfg.BasePath = "/" + strings.Trim(cfg.BasePath, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &API{cfg: cfg, log: cfg.Logger.With("component", "uploadapi"),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_api_requests_total",
			Help: "Upload API requests, by operation and status code."}, []string{"op", "code"})}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(a.requests); err != nil {
			return nil, fmt.Errorf("uploadapi: register metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	b := cfg.BasePath
	mux.HandleFunc("GET "+b, a.list)
	mux.HandleFunc("GET "+b+"/{$}", a.list)
	mux.HandleFunc("POST "+b+"/clear", a.clear)
	mux.HandleFunc("GET "+b+"/{id}", a.get)
	mux.HandleFunc("DELETE "+b+"/{id}", a.remove)
	var h http.Handler = mux
	if cfg.Authenticate != nil {
		h = cfg.Authenticate(h)
	}
	a.handler = a.adminKey(h)
	return a, nil
}

// Patterns are the paths to mount the API on, each served by [API.ServeHTTP].
func (a *API) Patterns() []string { return []string{a.cfg.BasePath, a.cfg.BasePath + "/"} }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

type adminCtxKey struct{}

// adminKey lets a request bearing one of the admin keys through as an
// admin, bypassing token authentication.
func (a *API) adminKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && len(a.cfg.AdminKeys) > 0 {
			for _, k := range a.cfg.AdminKeys {
				if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(k)) == 1 {
					next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminCtxKey{}, true)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// identity returns the caller, or writes 401 and returns false.
func (a *API) identity(w http.ResponseWriter, r *http.Request, op string) (Identity, bool) {
	if admin, _ := r.Context().Value(adminCtxKey{}).(bool); admin || a.cfg.Open {
		return Identity{Admin: true}, true
	}
	if a.cfg.IdentityOf != nil {
		if id, ok := a.cfg.IdentityOf(r.Context()); ok {
			return id, true
		}
	}
	a.fail(w, op, http.StatusUnauthorized, "ERR_UNAUTHORIZED", "a bearer token is required")
	return Identity{}, false
}

// errorBody is every error answer.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func (a *API) fail(w http.ResponseWriter, op string, code int, errCode, msg string) {
	if code >= 500 {
		w.Header().Set("Retry-After", "5")
	}
	a.reply(w, op, code, errorBody{Error: errCode, Message: msg})
}

func (a *API) reply(w http.ResponseWriter, op string, code int, body any) {
	a.requests.WithLabelValues(op, fmt.Sprint(code)).Inc()
	w.Header().Set("Cache-Control", "no-store")
	if body == nil {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// internal answers a failure of Redis or VOD: 503 with Retry-After, the
// detail only in the log.
func (a *API) internal(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.log.WarnContext(r.Context(), "APIFailed", "op", op, "error", err)
	a.fail(w, op, http.StatusServiceUnavailable, "ERR_STATE_UNAVAILABLE", "the upload list is unavailable; retry later")
}
