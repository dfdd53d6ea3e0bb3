package server

import (
	"net/http"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/vodgate/vodgate/internal/tusmeta"
)

// ErrInvalidMetadata answers a creation whose Upload-Metadata header is not
// well-formed; the message names the problem.
var ErrInvalidMetadata = handler.NewError("ERR_INVALID_METADATA", "invalid Upload-Metadata", http.StatusBadRequest)

const octetStream = "application/offset+octet-stream"

// checkMetadata returns tusd's first PreUploadCreateCallback: an
// Upload-Metadata header that is not well-formed (see [tusmeta.Validate]),
// or whose values client refuses, is rejected with 400 before the store
// creates the VOD media. It sees the client's own metadata, before any
// hook changes it; client may be nil. For a creation in the IETF draft,
// draft (if set) gives the metadata first, and it becomes the upload's.
func checkMetadata(client func(handler.MetaData) error, draft func(http.Header, handler.MetaData) handler.MetaData) func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	return func(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
		var changes handler.FileInfoChanges
		if v := hook.HTTPRequest.Header.Get("Upload-Draft-Interop-Version"); draft != nil && v >= "3" && v <= "6" && len(v) == 1 {
			// tusd's draft versions; internal/resumable hands it 7 and 8 as 6
			changes.MetaData = draft(hook.HTTPRequest.Header, hook.Upload.MetaData)
			hook.Upload.MetaData = changes.MetaData
		}
		err := tusmeta.Validate(hook.HTTPRequest.Header.Get("Upload-Metadata"))
		if err == nil && client != nil {
			err = client(hook.Upload.MetaData)
		}
		if err != nil {
			e := ErrInvalidMetadata
			e.Message = err.Error()
			e.HTTPResponse.Body = e.ErrorCode + ": " + e.Message + "\n"
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, e
		}
		return handler.HTTPResponse{}, changes, nil
	}
}

// chainPreCreate runs next after first unless first fails; next may be
// nil. next sees the metadata first changed.
func chainPreCreate(first, next func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error)) func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	if next == nil {
		return first
	}
	return func(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
		res, changes, err := first(ev)
		if err != nil {
			return res, changes, err
		}
		if changes.MetaData != nil {
			ev.Upload.MetaData = changes.MetaData
		}
		res2, changes2, err := next(ev)
		if err != nil {
			return res2, changes2, err
		}
		if changes2.MetaData == nil {
			changes2.MetaData = changes.MetaData
		}
		if changes2.ID == "" {
			changes2.ID = changes.ID
		}
		return res.MergeWith(res2), changes2, nil
	}
}

// errUnsupportedVersion is tusd's answer to a Tus-Resumable it does not
// speak, which tusd v2.9.1 skips for GET and HEAD.
var errUnsupportedVersion = handler.NewError("ERR_UNSUPPORTED_VERSION", "missing, invalid or unsupported Tus-Resumable header", http.StatusPreconditionFailed)

// withTusStatus corrects tusd v2.9.1 statuses that differ from the tus
// 1.0.0 specification: a tus v1 PATCH without Content-Type
// application/offset+octet-stream gets 415 Unsupported Media Type (tusd
// answers 400, having checked nothing else yet), and a HEAD or GET whose
// Tus-Resumable names a version other than 1.0.0 gets 412 with
// Tus-Version, as every other request but OPTIONS does. The body is
// tusd's.
func withTusStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Tus-Resumable"); v != "" && v != "1.0.0" &&
			(r.Method == http.MethodHead || r.Method == http.MethodGet) {
			w.Header().Set("Tus-Version", "1.0.0")
			writeTusError(w, r, errUnsupportedVersion)
			return
		}
		if tusMethod(r) != http.MethodPatch || r.Header.Get("Content-Type") == octetStream ||
			r.Header.Get("Upload-Draft-Interop-Version") != "" {
			next.ServeHTTP(w, r)
			return
		}
		rw := wrapWriter(w)
		rw.mapStatus(func(status int) int {
			if status == http.StatusBadRequest {
				return http.StatusUnsupportedMediaType
			}
			return status
		})
		next.ServeHTTP(rw, r)
	})
}
