package osstest

// Signature recomputation, written from the OSS documentation (V1 "OSS
// ak:sig" and V4 "OSS4-HMAC-SHA256"). It deliberately shares no code with
// any client so that a wrong assumption cannot hide on both sides.

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// isV1SubResource reports whether V1 signs the query parameter k (OSS docs,
// "CanonicalizedResource"). Every other query parameter is ignored by V1.
func isV1SubResource(k string) bool {
	switch k {
	case "acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle", "delete",
		"append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token", "position", "img",
		"style", "styleName", "replication", "replicationProgress", "replicationLocation", "cname",
		"bucketInfo", "comp", "qos", "live", "status", "vod", "startTime", "endTime", "symlink",
		"x-oss-process", "response-content-type", "response-content-language", "response-expires",
		"response-cache-control", "response-content-disposition", "response-content-encoding",
		"x-oss-traffic-limit", "restore", "callback", "callback-var", "policy", "stat", "encryption",
		"versions", "versioning", "versionId", "requestPayment", "x-oss-request-payer", "sequential",
		"inventory", "inventoryId", "continuation-token", "asyncFetch", "worm", "wormId", "wormExtend",
		"transferAcceleration", "metaQuery", "resourceGroup", "rtc", "x-oss-async-process",
		"responseHeader":
		return true
	}
	return false
}

// v1StringToSign builds VERB\nContent-MD5\nContent-Type\nDate\n +
// CanonicalizedOSSHeaders + CanonicalizedResource.
func v1StringToSign(method string, h http.Header, bucket, key string, q url.Values) string {
	var b strings.Builder
	b.WriteString(method + "\n")
	b.WriteString(h.Get("Content-Md5") + "\n")
	b.WriteString(h.Get("Content-Type") + "\n")
	b.WriteString(h.Get("Date") + "\n")
	for _, kv := range ossHeaders(h, nil) {
		b.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	b.WriteString(v1Resource(bucket, key, q))
	return b.String()
}

// v1Resource is "/bucket/key" (key not escaped) plus the sorted signed
// sub-resources as k=v or bare k.
func v1Resource(bucket, key string, q url.Values) string {
	res := "/"
	if bucket != "" {
		res += bucket + "/" + key
	}
	var subs []string
	for k, vs := range q {
		if !isV1SubResource(k) {
			continue
		}
		for _, v := range vs {
			if v == "" {
				subs = append(subs, k)
			} else {
				subs = append(subs, k+"="+v)
			}
		}
	}
	if len(subs) == 0 {
		return res
	}
	sort.Strings(subs)
	return res + "?" + strings.Join(subs, "&")
}

// signV1 returns base64(HMAC-SHA1(secret, sts)).
func signV1(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ossHeaders returns the x-oss-* headers (plus, for V4, content-type,
// content-md5 and the additional headers in extra) as sorted lower-case
// name/trimmed-value pairs.
func ossHeaders(h http.Header, extra map[string]string) [][2]string {
	var out [][2]string
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || extra != nil && (lk == "content-type" || lk == "content-md5") {
			out = append(out, [2]string{lk, strings.TrimSpace(vs[0])})
		}
	}
	for k, v := range extra {
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// v4Request holds the parts of a V4 Authorization header and request needed
// to recompute the signature.
type v4Request struct {
	method     string
	bucket     string
	key        string
	query      url.Values
	header     http.Header
	host       string
	additional []string // lower-case names from AdditionalHeaders
	timestamp  string   // x-oss-date, else Date
	scope      string   // yyyymmdd/region/oss/aliyun_v4_request
}

// canonicalRequest builds VERB\nURI\nQuery\nHeaders\n\nAdditional\nPayloadHash.
func (v *v4Request) canonicalRequest() string {
	var b strings.Builder
	b.WriteString(v.method + "\n")
	uri := "/"
	if v.bucket != "" {
		uri += v.bucket + "/" + uriEscape(v.key, true)
	}
	b.WriteString(uri + "\n")
	b.WriteString(v4Query(v.query) + "\n")
	extra := map[string]string{}
	for _, name := range v.additional {
		if name == "host" {
			extra[name] = v.host
		} else if !strings.HasPrefix(name, "x-oss-") && name != "content-type" && name != "content-md5" {
			extra[name] = v.header.Get(name)
		}
	}
	for _, kv := range ossHeaders(v.header, extra) {
		b.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(v.additional, ";") + "\n")
	payload := v.header.Get("X-Oss-Content-Sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	b.WriteString(payload)
	return b.String()
}

// v4Query encodes every query parameter (RFC 3986), sorted by encoded name,
// as k=v or bare k when the value is empty.
func v4Query(q url.Values) string {
	var parts []string
	for k, vs := range q {
		ek := uriEscape(k, false)
		for _, v := range vs {
			if v == "" {
				parts = append(parts, ek)
			} else {
				parts = append(parts, ek+"="+uriEscape(v, false))
			}
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// stringToSign is OSS4-HMAC-SHA256\ntimestamp\nscope\nhex(sha256(canonical request)).
func (v *v4Request) stringToSign(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return "OSS4-HMAC-SHA256\n" + v.timestamp + "\n" + v.scope + "\n" + hex.EncodeToString(sum[:])
}

// signV4 derives the signing key from "aliyun_v4"+secret over date, region,
// "oss" and "aliyun_v4_request", and returns hex(HMAC-SHA256(key, sts)).
func signV4(secret, date, region, sts string) string {
	key := []byte("aliyun_v4" + secret)
	for _, part := range []string{date, region, "oss", "aliyun_v4_request", sts} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	return hex.EncodeToString(key)
}

// uriEscape percent-encodes every byte except the RFC 3986 unreserved set
// (A-Z a-z 0-9 - _ . ~) and, when keepSlash, '/'. Hex digits are upper case.
func uriEscape(s string, keepSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~', keepSlash && c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// bytesHex renders s as space-separated upper-case hex bytes, the format of
// <StringToSignBytes> in SignatureDoesNotMatch bodies.
func bytesHex(s string) string {
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexd[s[i]>>4], hexd[s[i]&15])
	}
	return string(b)
}
