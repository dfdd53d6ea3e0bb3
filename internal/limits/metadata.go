package limits

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/tus/tusd/v2/pkg/handler"
)

// maxMetadataKeys bounds the pairs of one Upload-Metadata header.
const maxMetadataKeys = 64

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

// checkMetadata validates an Upload-Metadata header value: at most max
// bytes (if max > 0) and maxMetadataKeys pairs, each "key" or
// "key base64(value)" with a key free of spaces and commas, unique, and a
// value in standard base64. tusd silently drops pairs it cannot parse;
// refusing them tells the client what is wrong instead.
func checkMetadata(v string, max int) *handler.Error {
	if v == "" {
		return nil
	}
	if max > 0 && len(v) > max {
		return ptr(withMessage(ErrMetadataTooLarge, fmt.Sprintf("Upload-Metadata is %d bytes, over %d", len(v), max)))
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, val, hasVal := strings.Cut(pair, " ")
		switch {
		case key == "":
			return ptr(withMessage(ErrMetadataInvalid, "Upload-Metadata has an empty key"))
		case strings.ContainsAny(key, "\t\r\n") || !printable(key):
			return ptr(withMessage(ErrMetadataInvalid, "Upload-Metadata keys must be printable ASCII without spaces"))
		case seen[key]:
			return ptr(withMessage(ErrMetadataInvalid, fmt.Sprintf("Upload-Metadata key %q appears twice", key)))
		}
		seen[key] = true
		if len(seen) > maxMetadataKeys {
			return ptr(withMessage(ErrMetadataInvalid, fmt.Sprintf("Upload-Metadata has more than %d keys", maxMetadataKeys)))
		}
		if hasVal {
			if strings.Contains(val, " ") {
				return ptr(withMessage(ErrMetadataInvalid, fmt.Sprintf("Upload-Metadata value of %q has a space", key)))
			}
			if _, err := base64.StdEncoding.DecodeString(val); err != nil {
				return ptr(withMessage(ErrMetadataInvalid, fmt.Sprintf("Upload-Metadata value of %q is not base64", key)))
			}
		}
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// withMessage returns e with its message (and body) replaced by msg.
func withMessage(e handler.Error, msg string) handler.Error {
	return handler.NewError(e.ErrorCode, msg, e.HTTPResponse.StatusCode)
}

func ptr(e handler.Error) *handler.Error { return &e }
