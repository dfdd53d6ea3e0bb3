// Package checksum implements the tus checksum extension
// (https://tus.io/protocols/resumable-upload#checksum) and its
// checksum-trailer variant as HTTP middleware in front of tusd.
//
// A PATCH (or a creation-with-upload POST) may carry
// "Upload-Checksum: <algorithm> <base64 digest>" of its body, as a header
// or, announced with "Trailer: Upload-Checksum", as a chunked trailer. The
// middleware wraps the body in a hashing reader and hands the store a
// check through a function (tusstore.WithBodyCheck in the gateway); the
// store calls it once the body ended and records none of the body's bytes
// unless it passes. A mismatch answers 460 Checksum Mismatch; an unknown
// algorithm or a malformed value answers 400; a body that ended early
// cannot be verified and commits nothing.
//
// Algorithms: sha1, md5, crc32 (IEEE, the 4 bytes big-endian), sha256 and
// sha512. A trailer names its algorithm only after the body, so a body
// with a checksum trailer is hashed with all of them.
package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"net/http"
	"strings"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Header names.
const (
	HeaderChecksum   = "Upload-Checksum"
	HeaderAlgorithms = "Tus-Checksum-Algorithm"
)

// StatusMismatch is the tus status 460 Checksum Mismatch.
const StatusMismatch = 460

// Algorithms lists the supported algorithms in the order
// Tus-Checksum-Algorithm advertises them.
var Algorithms = []string{"sha1", "md5", "crc32", "sha256", "sha512"}

// newHash returns a hash for a supported algorithm, or nil.
func newHash(alg string) hash.Hash {
	switch alg {
	case "sha1":
		return sha1.New()
	case "md5":
		return md5.New()
	case "crc32":
		return crc32.NewIEEE()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// Errors the middleware answers with (tus errors, as tusd writes them).
var (
	ErrUnsupported = handler.NewError("ERR_CHECKSUM_ALGORITHM_UNSUPPORTED",
		"Upload-Checksum names an algorithm this server does not support (see Tus-Checksum-Algorithm)", http.StatusBadRequest)
	ErrMalformed = handler.NewError("ERR_INVALID_CHECKSUM",
		`Upload-Checksum must be "<algorithm> <base64 digest>" with a digest of the algorithm's length`, http.StatusBadRequest)
	ErrMissing = handler.NewError("ERR_CHECKSUM_MISSING",
		"the request announced an Upload-Checksum trailer but sent none; none of its bytes were kept", http.StatusBadRequest)
	ErrIncomplete = handler.NewError("ERR_CHECKSUM_UNVERIFIED",
		"the request body ended early, so its checksum cannot be verified; none of its bytes were kept", http.StatusBadRequest)
	ErrMismatch = handler.NewError("ERR_CHECKSUM_MISMATCH",
		"the body does not match Upload-Checksum; none of its bytes were kept, send them again", StatusMismatch)
)

// Checksum is a parsed Upload-Checksum value.
type Checksum struct {
	Algorithm string // lower case, one of Algorithms
	Digest    []byte
}

// Parse parses an Upload-Checksum value: an algorithm name (case does not
// matter), one space, and the digest in standard base64 (padding
// optional). It returns ErrUnsupported for an algorithm not in Algorithms
// and ErrMalformed for anything else that is wrong, including a digest of
// the wrong length.
func Parse(v string) (Checksum, error) {
	alg, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	alg, enc = strings.ToLower(alg), strings.TrimSpace(enc)
	if !ok || alg == "" || enc == "" || strings.ContainsAny(enc, " \t") {
		return Checksum{}, ErrMalformed
	}
	h := newHash(alg)
	if h == nil {
		return Checksum{}, ErrUnsupported
	}
	d, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		d, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil || len(d) != h.Size() {
		return Checksum{}, ErrMalformed
	}
	return Checksum{Algorithm: alg, Digest: d}, nil
}

// String formats c as an Upload-Checksum value.
func (c Checksum) String() string {
	return c.Algorithm + " " + base64.StdEncoding.EncodeToString(c.Digest)
}
