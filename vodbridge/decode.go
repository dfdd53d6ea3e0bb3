package vodbridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// uploadAddress is the JSON inside UploadAddress. Unknown fields are ignored.
type uploadAddress struct {
	Endpoint     string `json:"Endpoint"`
	Bucket       string `json:"Bucket"`
	FileName     string `json:"FileName"`
	ObjectPrefix string `json:"ObjectPrefix"`
}

// uploadAuth is the JSON inside UploadAuth. Expiration is documented as a
// number of seconds but has been seen as a string ("3000") and may be a date,
// so it stays raw.
type uploadAuth struct {
	AccessKeyID     string          `json:"AccessKeyId"`
	AccessKeySecret string          `json:"AccessKeySecret"`
	SecurityToken   string          `json:"SecurityToken"`
	Expiration      json.RawMessage `json:"Expiration"`
	ExpireUTCTime   string          `json:"ExpireUTCTime"`
	Region          string          `json:"Region"`
}

// Decode errors are unprefixed; the caller adds "vodbridge: <op> <id>: ".

// decodeB64JSON decodes standard base64 (tolerating embedded \r, \n, spaces
// and missing padding) into JSON v. Error messages never quote the input,
// because UploadAuth contains secrets.
func decodeB64JSON(field, s string, v any) error {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', ' ', '\t':
			return -1
		}
		return r
	}, s)
	if s == "" {
		return fmt.Errorf("%s is empty: %w", field, ErrBadResponse)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return fmt.Errorf("%s is not standard base64: %w", field, ErrBadResponse)
		}
	}
	raw = bytes.TrimSpace(raw)
	if err := json.Unmarshal(raw, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("%s: invalid json at offset %d: %w", field, se.Offset, ErrBadResponse)
		case errors.As(err, &te):
			return fmt.Errorf("%s: field %s has json type %s: %w", field, te.Field, te.Value, ErrBadResponse)
		default:
			return fmt.Errorf("%s: not a json object: %w", field, ErrBadResponse)
		}
	}
	return nil
}

// decodeAddress decodes an UploadAddress.
func decodeAddress(s string) (Address, error) {
	var a uploadAddress
	if err := decodeB64JSON("UploadAddress", s, &a); err != nil {
		return Address{}, err
	}
	addr := Address{
		Endpoint:     strings.TrimSpace(a.Endpoint),
		Bucket:       strings.TrimSpace(a.Bucket),
		FileName:     a.FileName,
		ObjectPrefix: a.ObjectPrefix,
	}
	for _, f := range []struct{ name, v string }{{"Endpoint", addr.Endpoint}, {"Bucket", addr.Bucket}, {"FileName", addr.FileName}} {
		if f.v == "" {
			return Address{}, fmt.Errorf("UploadAddress lacks %s: %w", f.name, ErrBadResponse)
		}
	}
	if !strings.Contains(addr.Endpoint, "://") {
		addr.Endpoint = "https://" + addr.Endpoint
	}
	return addr, nil
}

// decodeAuth decodes an UploadAuth issued at (just after) issued. lifetime
// caps the validity; fallbackRegion is used when neither UploadAuth.Region
// nor the endpoint name a region.
func decodeAuth(s string, issued time.Time, lifetime time.Duration, endpoint, fallbackRegion string) (Credential, error) {
	var a uploadAuth
	if err := decodeB64JSON("UploadAuth", s, &a); err != nil {
		return Credential{}, err
	}
	c := Credential{
		AccessKeyID:     strings.TrimSpace(a.AccessKeyID),
		AccessKeySecret: strings.TrimSpace(a.AccessKeySecret),
		SecurityToken:   strings.TrimSpace(a.SecurityToken),
		Region:          strings.TrimSpace(a.Region),
		Expires:         issued.Add(lifetime),
	}
	if c.AccessKeyID == "" {
		return Credential{}, fmt.Errorf("UploadAuth lacks AccessKeyId: %w", ErrBadResponse)
	}
	if c.AccessKeySecret == "" {
		return Credential{}, fmt.Errorf("UploadAuth lacks AccessKeySecret: %w", ErrBadResponse)
	}
	if c.Region == "" {
		c.Region = regionFromEndpoint(endpoint)
	}
	if c.Region == "" {
		c.Region = fallbackRegion
	}
	if a.ExpireUTCTime != "" {
		t, err := parseInstant(a.ExpireUTCTime)
		if err != nil {
			return Credential{}, fmt.Errorf("UploadAuth ExpireUTCTime %q is not an ISO-8601 instant: %w", a.ExpireUTCTime, ErrBadResponse)
		}
		c.Expires = earliest(c.Expires, t)
	}
	if t, ok := parseExpiration(a.Expiration, issued); ok {
		c.Expires = earliest(c.Expires, t)
	}
	return c, nil
}

// parseExpiration reads Expiration as seconds after issued (a JSON number or
// a numeric string) or as an absolute instant. ok is false when absent or
// unparseable; it is advisory, so junk is ignored.
func parseExpiration(raw json.RawMessage, issued time.Time) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false
	}
	var v string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &v) != nil {
			return time.Time{}, false
		}
	} else {
		v = string(raw)
	}
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 7*24*3600 {
			return time.Time{}, false
		}
		return issued.Add(time.Duration(secs * float64(time.Second))), true
	}
	if t, err := parseInstant(v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func parseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04Z"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil // layouts without a zone parse as UTC
		}
	}
	return time.Time{}, err
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
