// Package tusmeta checks the tus Upload-Metadata header. tusd's parser
// silently drops pairs it cannot read, so an upload would be created with
// less metadata than the client sent; the gateway refuses such a header
// instead, with a message that names the problem.
package tusmeta

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// MaxKeys bounds the pairs of one header.
const MaxKeys = 64

// Validate reports why v is not a well-formed Upload-Metadata value, or
// nil. Well-formed means comma-separated pairs, each a key of printable
// ASCII without spaces or commas, unique, optionally followed by one space
// and a value in standard Base64; at most MaxKeys of them. Spaces around a
// pair and empty pairs are ignored, as tusd ignores them; so an empty
// header is valid.
func Validate(v string) error {
	seen := map[string]bool{}
	for i, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, val, hasVal := strings.Cut(pair, " ")
		switch {
		case !printable(key):
			return fmt.Errorf("Upload-Metadata key %.40q is not printable ASCII without spaces", key)
		case seen[key]:
			return fmt.Errorf("Upload-Metadata key %.40q appears twice", key)
		case hasVal && strings.Contains(val, " "):
			return fmt.Errorf("pair %d of Upload-Metadata (key %.40q) has %d space-separated fields, want a key and an optional Base64 value",
				i+1, key, len(strings.Fields(pair)))
		}
		seen[key] = true
		if len(seen) > MaxKeys {
			return fmt.Errorf("Upload-Metadata has more than %d keys", MaxKeys)
		}
		if hasVal {
			if _, err := base64.StdEncoding.DecodeString(val); err != nil {
				return fmt.Errorf("Upload-Metadata value of %.40q is not valid standard Base64", key)
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
