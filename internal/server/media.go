package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Response headers that carry the VOD media of an upload.
const (
	HeaderMediaID   = "Vod-Media-Id"
	HeaderMediaType = "Vod-Media-Type"
)

// MediaLookup reports the VOD media behind a tus upload. *tusstore.Store
// implements it. MediaOf is called on the request path, just before a
// response header is written, so it should be fast; ok is false when the
// upload is unknown or has no media yet. Implementations must be safe for
// concurrent use.
type MediaLookup interface {
	MediaOf(ctx context.Context, uploadID string) (mediaID, mediaType string, ok bool)
}

// MediaLookupFunc adapts a function to [MediaLookup].
type MediaLookupFunc func(ctx context.Context, uploadID string) (mediaID, mediaType string, ok bool)

// MediaOf calls f.
func (f MediaLookupFunc) MediaOf(ctx context.Context, uploadID string) (string, string, bool) {
	return f(ctx, uploadID)
}

// ExpiryLookup reports when an unfinished upload expires. *tusstore.Store
// implements it. ok is false when the upload is unknown, finished or does
// not expire. Implementations must be safe for concurrent use.
type ExpiryLookup interface {
	ExpiresOf(ctx context.Context, uploadID string) (time.Time, bool)
}

// uploadHeaders adds, on the tus routes, what tusd v2.9.1 does not send
// itself: Vod-Media-Id and Vod-Media-Type on successful POST (upload ID
// from Location), HEAD and PATCH responses (if media is set), and the tus
// expiration extension (if expiry is set): Upload-Expires on successful
// POST and PATCH responses and "expiration" in Tus-Extension. basePath is
// the tus base path with leading and trailing slashes.
func uploadHeaders(basePath string, media MediaLookup, expiry ExpiryLookup, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := tusMethod(r)
		rw := wrapWriter(w)
		switch method {
		case http.MethodOptions:
			if expiry != nil {
				rw.beforeHeader(func(_ int, h http.Header) {
					if ext := h.Get("Tus-Extension"); ext != "" && !strings.Contains(ext, "expiration") {
						h.Set("Tus-Extension", ext+",expiration")
					}
				})
			}
		case http.MethodPost, http.MethodHead, http.MethodPatch:
			rw.beforeHeader(func(status int, h http.Header) {
				if status < 200 || status > 299 {
					return
				}
				var id string
				if method == http.MethodPost {
					id = idFromLocation(h.Get("Location"), basePath)
				} else {
					id = idFromPath(r.URL.Path, basePath)
				}
				if id == "" {
					return
				}
				if media != nil {
					if mediaID, mediaType, ok := media.MediaOf(r.Context(), id); ok {
						h.Set(HeaderMediaID, mediaID)
						h.Set(HeaderMediaType, mediaType)
					}
				}
				if expiry != nil && method != http.MethodHead {
					if t, ok := expiry.ExpiresOf(r.Context(), id); ok {
						h.Set("Upload-Expires", t.UTC().Format(http.TimeFormat))
					}
				}
			})
		}
		next.ServeHTTP(rw, r)
	})
}

// tusMethod returns the method tusd will act on: POST requests may carry
// X-HTTP-Method-Override (for clients that cannot send PATCH or DELETE).
func tusMethod(r *http.Request) string {
	if o := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && o != "" {
		return strings.ToUpper(o)
	}
	return r.Method
}

// idFromPath returns the upload ID of a request path under basePath.
func idFromPath(path, basePath string) string {
	rest, ok := strings.CutPrefix(path, basePath)
	if !ok {
		return ""
	}
	return strings.Trim(rest, "/")
}

// idFromLocation returns the upload ID from a Location header value, which
// tusd makes absolute (scheme://host/<base>/<id>).
func idFromLocation(loc, basePath string) string {
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	return idFromPath(u.Path, basePath)
}
