package tusstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

var (
	errCorrupt    = errors.New("tusstore: checksum mismatch")
	errCredential = errors.New("tusstore: upload credential unusable")
	errLockLost   = errors.New("tusstore: upload lock lost")
)

// Tus errors this store returns besides tusd's own.
var (
	ErrBusy               = retryLater(handler.NewError("ERR_BUSY", "server is at its buffer budget, retry later", http.StatusServiceUnavailable), "1")
	ErrStateUnavailable   = retryLater(handler.NewError("ERR_STATE_UNAVAILABLE", "upload state store unavailable, retry later", http.StatusServiceUnavailable), "1")
	ErrStorageUnavailable = retryLater(handler.NewError("ERR_STORAGE_UNAVAILABLE", "object storage unavailable, retry later", http.StatusServiceUnavailable), "2")
	ErrVODThrottled       = retryLater(handler.NewError("ERR_VOD_THROTTLED", "VOD is throttling requests, retry later", http.StatusServiceUnavailable), "2")
	ErrVODUnavailable     = retryLater(handler.NewError("ERR_VOD_UNAVAILABLE", "VOD unavailable, retry later", http.StatusServiceUnavailable), "2")
	ErrLockLost           = handler.NewError("ERR_LOCK_LOST", "another request took over this upload", http.StatusLocked)
	ErrUploadGone         = handler.NewError("ERR_UPLOAD_GONE", "the upload's storage was aborted or expired", http.StatusGone)
	ErrCorrupt            = handler.NewError("ERR_CHECKSUM_MISMATCH", "stored bytes do not match what was received", http.StatusInternalServerError)
	ErrGatewayAuth        = handler.NewError("ERR_VOD_AUTH", "the gateway's VOD credentials were rejected", http.StatusBadGateway)
	ErrStorageRejected    = handler.NewError("ERR_STORAGE_REJECTED", "object storage rejected the request", http.StatusBadGateway)
	ErrInternal           = handler.NewError("ERR_INTERNAL_SERVER_ERROR", "internal server error (details in the gateway log)", http.StatusInternalServerError)
)

func retryLater(e handler.Error, seconds string) handler.Error {
	e.HTTPResponse.Header["Retry-After"] = seconds
	return e
}

// tusError is the one place that turns VOD, OSS and record-store failures
// into tus responses. Anything it does not recognise stays wrapped, and
// tusd answers it with 500.
func (s *Store) tusError(op string, err error) error {
	if err == nil {
		return nil
	}
	var he handler.Error
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The request ended or was interrupted (tusd tells its client).
		return fmt.Errorf("tusstore: %s: %w", op, err)
	}
	te := classify(err)
	if te == nil {
		// Never hand SDK text or request IDs to the client: log them.
		te = &ErrInternal
		s.log.Error("StoreError", "op", op, "code", te.ErrorCode, "error", err)
		s.metrics.errors.WithLabelValues(te.ErrorCode).Inc()
		return *te
	}
	s.metrics.errors.WithLabelValues(te.ErrorCode).Inc()
	if te.HTTPResponse.StatusCode >= 500 {
		s.log.Warn("StoreError", "op", op, "code", te.ErrorCode, "error", err)
	}
	return *te
}

func classify(err error) *handler.Error {
	pick := func(e handler.Error) *handler.Error { return &e }
	var api *vodbridge.APIError
	switch {
	case errors.Is(err, errBusy):
		return pick(ErrBusy)
	case errors.Is(err, errLockLost) || hasClass(err, "Fenced"):
		return pick(ErrLockLost)
	case hasClass(err, "NotFound"):
		return pick(handler.ErrNotFound)
	case hasClass(err, "Temporary"):
		return pick(ErrStateUnavailable)
	case errors.Is(err, errTooLarge):
		return pick(handler.ErrMaxSizeExceeded)
	case errors.Is(err, errCorrupt):
		return pick(ErrCorrupt)
	case errors.Is(err, vodbridge.ErrThrottled):
		return pick(ErrVODThrottled)
	case errors.Is(err, vodbridge.ErrAuth):
		return pick(ErrGatewayAuth)
	case errors.As(err, &api) && (errors.Is(err, vodbridge.ErrInvalidArgument) || errors.Is(err, vodbridge.ErrNotFound)):
		e := handler.NewError("ERR_VOD_REJECTED", "VOD rejected the upload: "+api.Code, http.StatusBadRequest)
		return &e
	case errors.Is(err, vodbridge.ErrInvalidArgument): // rejected before sending
		e := handler.NewError("ERR_VOD_REJECTED", "invalid VOD parameters: "+err.Error(), http.StatusBadRequest)
		return &e
	case errors.As(err, &api):
		return pick(ErrVODUnavailable)
	case noSuchUpload(err):
		return pick(ErrUploadGone)
	case errors.Is(err, errCredential) || credentialRejected(err):
		return pick(ErrStorageUnavailable)
	}
	_, status, ok := ossCode(err)
	switch {
	case ok && (status >= 500 || status == http.StatusTooManyRequests || status == http.StatusForbidden):
		// 403: OSS refuses the upload credential (a signature or policy
		// failure that a refresh may cure), as at initiation.
		return pick(ErrStorageUnavailable)
	case ok && status >= 400:
		return pick(ErrStorageRejected)
	case !ok && retryable(err) && isNetwork(err):
		return pick(ErrStorageUnavailable)
	}
	return nil
}

// hasClass reports whether err (from Records) classifies itself as name
// through a method such as NotFound() bool.
func hasClass(err error, name string) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		var ok bool
		switch name {
		case "NotFound":
			c, is := e.(interface{ NotFound() bool })
			ok = is && c.NotFound()
		case "Exists":
			c, is := e.(interface{ Exists() bool })
			ok = is && c.Exists()
		case "Fenced":
			c, is := e.(interface{ Fenced() bool })
			ok = is && c.Fenced()
		case "Temporary":
			c, is := e.(interface{ Temporary() bool })
			ok = is && c.Temporary()
		}
		if ok {
			return true
		}
	}
	return false
}

// isNetwork reports whether err is a transport failure talking to OSS.
func isNetwork(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}
