package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vodgate/vodgate/tusstore"
)

// Limits on what a token may carry.
const (
	maxTokenBytes   = 8 << 10 // a longer bearer token is refused unparsed
	maxSubjectBytes = 256
	maxParamBytes   = 128
)

// mediaTypes are the values allowed in vod_media_types / types.
var mediaTypes = []string{"video", "image", "attached"}

// paramPattern matches fixed VOD parameters (ids, storage locations).
var paramPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// capClaims are the claims, common to JWTs and upload tokens, that
// restrict uploads; they become a [tusstore.Caller].
type capClaims struct {
	Subject         string
	MaxSize         int64
	MediaTypes      []string
	TemplateGroupID string
	WorkflowID      string
	CateID          int64
	StorageLocation string
	AppID           string
	Admin           bool
}

// caller validates c and returns the caller it describes.
func (c capClaims) caller() (tusstore.Caller, error) {
	switch {
	case c.Subject == "":
		return tusstore.Caller{}, reject(ReasonBadClaims, "token has no subject")
	case len(c.Subject) > maxSubjectBytes || !utf8.ValidString(c.Subject) || hasControl(c.Subject):
		return tusstore.Caller{}, reject(ReasonBadClaims, "token subject is too long or not printable")
	case c.MaxSize < 0:
		return tusstore.Caller{}, reject(ReasonBadClaims, "token max size must not be negative")
	case c.CateID < 0:
		return tusstore.Caller{}, reject(ReasonBadClaims, "token cate id must not be negative")
	}
	for _, t := range c.MediaTypes {
		if !slices.Contains(mediaTypes, t) {
			return tusstore.Caller{}, reject(ReasonBadClaims, "token media types must be video, image or attached")
		}
	}
	for _, p := range []string{c.TemplateGroupID, c.WorkflowID, c.StorageLocation, c.AppID} {
		if p != "" && (len(p) > maxParamBytes || !paramPattern.MatchString(p)) {
			return tusstore.Caller{}, reject(ReasonBadClaims, "token VOD parameters must be letters, digits, '-', '_' or '.'")
		}
	}
	return tusstore.Caller{
		Owner:      c.Subject,
		MaxSize:    c.MaxSize,
		MediaTypes: slices.Clone(c.MediaTypes),
		Admin:      c.Admin,
		Fixed: tusstore.Fixed{
			TemplateGroupID: c.TemplateGroupID, WorkflowID: c.WorkflowID, CateID: c.CateID,
			StorageLocation: c.StorageLocation, AppID: c.AppID,
		},
	}, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// numericDate is a JSON number of seconds (RFC 7519 NumericDate); it may
// be fractional. A quoted number is accepted for int64 claims such as
// vod_cate_id written as strings by some issuers.
type numericDate struct {
	set bool
	v   int64
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return fmt.Errorf("not a numeric date")
	}
	d.set, d.v = true, int64(f)
	return nil
}

// flexInt is an integer claim given as a JSON number or a decimal string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return fmt.Errorf("not an integer")
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}

// stringList is a claim given as a JSON array of strings, a single string
// or a comma-separated string.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var arr []string
	if err := json.Unmarshal(b, &arr); err == nil {
		*l = arr
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not a string or list of strings")
	}
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
