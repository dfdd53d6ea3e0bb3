package limits

import (
	"fmt"
	"net/http"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/vodgate/vodgate/internal/tusmeta"
)

// Errors of the header checks.
var (
	ErrHeadersTooLarge  = handler.NewError("ERR_HEADERS_TOO_LARGE", "request headers too large", http.StatusRequestHeaderFieldsTooLarge)
	ErrMetadataTooLarge = handler.NewError("ERR_METADATA_TOO_LARGE", "Upload-Metadata too large", http.StatusBadRequest)
	ErrMetadataInvalid  = handler.NewError("ERR_INVALID_METADATA", "malformed Upload-Metadata", http.StatusBadRequest)
)

// headerBytes is the size of r's headers as sent: "Name: value\r\n" each.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// checkMetadata refuses an Upload-Metadata header value over max bytes
// (if max > 0) or not well-formed (see [tusmeta.Validate]).
func checkMetadata(v string, max int) *handler.Error {
	if max > 0 && len(v) > max {
		return ptr(withMessage(ErrMetadataTooLarge, fmt.Sprintf("Upload-Metadata is %d bytes, over %d", len(v), max)))
	}
	if err := tusmeta.Validate(v); err != nil {
		return ptr(withMessage(ErrMetadataInvalid, err.Error()))
	}
	return nil
}

// withMessage returns e with its message (and body) replaced by msg.
func withMessage(e handler.Error, msg string) handler.Error {
	return handler.NewError(e.ErrorCode, msg, e.HTTPResponse.StatusCode)
}

func ptr(e handler.Error) *handler.Error { return &e }
