package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// UploadGate decides whether a request may act on an existing upload
// before tusd sees it. tusd takes the upload's lock (asking its holder to
// let go) before the store can check anything, so without the gate a
// request for someone else's upload, or for an ID that names nothing,
// would interrupt the owner's PATCH or leave lock state behind.
// *tusstore.Store implements it. Implementations must be safe for
// concurrent use.
type UploadGate interface {
	// Admit reports whether the caller in ctx (set by the tus middleware)
	// may act on upload id: the ID is well formed, the upload exists and
	// the caller owns it. It must not take the upload's lock or write
	// state. A non-nil error means the answer is unknown (e.g. the state
	// store is unavailable); a handler.Error carries its status.
	Admit(ctx context.Context, id string) (bool, error)
}

// gateTimeout bounds the gate's state lookup.
const gateTimeout = 10 * time.Second

// gateUploads answers HEAD, PATCH and DELETE requests (including a POST
// with X-HTTP-Method-Override) for an upload the caller may not act on
// with tusd's 404 ERR_UPLOAD_NOT_FOUND, and with the gate's error when it
// cannot tell, before they reach tusd and its locker. basePath is the tus
// base path with leading and trailing slashes.
func gateUploads(basePath string, gate UploadGate, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch tusMethod(r) {
		case http.MethodHead, http.MethodPatch, http.MethodDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		id := idFromPath(r.URL.Path, basePath)
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		// Like tusd, do not tie the store to the request's context: net/http
		// cancels it when it sees the connection's read side end, which
		// happens on keep-alive connections after an interrupted body.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), gateTimeout)
		ok, err := gate.Admit(ctx, id)
		cancel()
		if err == nil && ok {
			next.ServeHTTP(w, r)
			return
		}
		if err == nil {
			err = handler.ErrNotFound
		}
		writeTusError(w, r, err)
	})
}

// writeTusError writes err as tusd does: its status, Tus-Resumable, and a
// "CODE: message" body (none for HEAD). An error that is not a
// handler.Error becomes 500 ERR_INTERNAL_SERVER_ERROR without its text.
func writeTusError(w http.ResponseWriter, r *http.Request, err error) {
	var te handler.Error
	if !errors.As(err, &te) {
		te = handler.NewError("ERR_INTERNAL_SERVER_ERROR", "internal server error", http.StatusInternalServerError)
	}
	h := w.Header()
	for k, v := range te.HTTPResponse.Header {
		h.Set(k, v)
	}
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(te.HTTPResponse.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(te.HTTPResponse.Body))
	}
}
