package vodtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Authentication, written from the public ACS3-HMAC-SHA256 and RPC (HMAC-SHA1) signature
// descriptions, independently of any client SDK:
//
//	canonicalRequest = METHOD \n canonicalURI \n canonicalQuery \n canonicalHeaders \n signedHeaders \n hashedPayload
//	stringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(canonicalRequest))
//	signature        = hex(hmac-sha256(secret, stringToSign))
//
// canonicalQuery: every query parameter, RFC 3986 percent-encoded (only A-Z a-z 0-9 - _ . ~ stay
// literal), sorted by encoded name, "k=v" joined with "&". canonicalHeaders: "name:trimmed value\n" for
// every name in SignedHeaders, in the order sent; host is the Host header including the port.

const (
	acs3Algorithm = "ACS3-HMAC-SHA256"
	acsDateLayout = "2006-01-02T15:04:05Z"
)

// credential is what authentication proved about the caller.
type credential struct {
	AccessKeyID string
	Style       string // "ACS3" or "RPC"
}

// authenticate verifies the request signature, access key, security token, timestamp and nonce.
// params are the RPC parameters (query plus form body); body is the raw request body.
func (s *Server) authenticate(r *http.Request, params map[string][]string, body []byte, now time.Time) (credential, *apiError) {
	authz := r.Header.Get("Authorization")
	if strings.HasPrefix(authz, acs3Algorithm+" ") {
		return s.authACS3(r, authz, body, now)
	}
	if first(params, "Signature") != "" {
		return s.authRPC(r, params, now)
	}
	return credential{}, newError(http.StatusBadRequest, codeIncompleteSignature,
		"The request signature does not conform to Aliyun standards.")
}

func (s *Server) authACS3(r *http.Request, authz string, body []byte, now time.Time) (credential, *apiError) {
	incomplete := func(why string) (credential, *apiError) {
		return credential{}, newError(http.StatusBadRequest, codeIncompleteSignature,
			"The request signature does not conform to Aliyun standards: %s.", why)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(authz, acs3Algorithm+" "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return incomplete("malformed Authorization")
		}
		fields[k] = v
	}
	ak, signedList, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if ak == "" || signedList == "" || sig == "" {
		return incomplete("Credential, SignedHeaders and Signature are required")
	}
	signed := strings.Split(signedList, ";")
	isSigned := map[string]bool{}
	for _, h := range signed {
		if h != strings.ToLower(h) || h == "" {
			return incomplete("SignedHeaders must be lower-case")
		}
		isSigned[h] = true
	}
	for _, must := range []string{"host", "x-acs-date", "x-acs-content-sha256"} {
		if !isSigned[must] {
			return incomplete(must + " must be signed")
		}
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-acs-") && !isSigned[l] {
			return incomplete(l + " must be signed")
		}
	}

	if aerr := s.checkTime(r.Header.Get("x-acs-date"), now); aerr != nil {
		return credential{}, aerr
	}
	if id := r.Header.Get("x-acs-accesskey-id"); id != "" && id != ak {
		return incomplete("x-acs-accesskey-id differs from Credential")
	}
	secret, aerr := s.checkKey(ak, r.Header.Values("x-acs-security-token"))
	if aerr != nil {
		return credential{}, aerr
	}
	payloadHash := r.Header.Get("x-acs-content-sha256")
	sum := sha256.Sum256(body)
	if !strings.EqualFold(payloadHash, hex.EncodeToString(sum[:])) {
		return credential{}, newError(http.StatusBadRequest, codeSignatureMismatch,
			"Specified signature is not matched with our calculation: x-acs-content-sha256 does not match the body.")
	}

	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL.EscapedPath()) + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + signedList + "\n" + payloadHash)
	reqHash := sha256.Sum256([]byte(canon.String()))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(acs3Algorithm + "\n" + hex.EncodeToString(reqHash[:])))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return credential{}, newError(http.StatusBadRequest, codeSignatureMismatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s",
			acs3Algorithm+"\n"+hex.EncodeToString(reqHash[:]))
	}
	if aerr := s.useNonce(r.Header.Get("x-acs-signature-nonce"), now); aerr != nil {
		return credential{}, aerr
	}
	return credential{AccessKeyID: ak, Style: "ACS3"}, nil
}

// authRPC verifies the legacy RPC signature (SignatureVersion 1.0, HMAC-SHA1) that the SDK uses
// with Config.SignatureAlgorithm "v2": every parameter except Signature is signed.
func (s *Server) authRPC(r *http.Request, params map[string][]string, now time.Time) (credential, *apiError) {
	if m := first(params, "SignatureMethod"); m != "HMAC-SHA1" {
		return credential{}, newError(http.StatusBadRequest, "InvalidSignatureMethod",
			"Specified signature method is not valid.")
	}
	if aerr := s.checkTime(first(params, "Timestamp"), now); aerr != nil {
		return credential{}, aerr
	}
	ak := first(params, "AccessKeyId")
	if ak == "" {
		return credential{}, errMissing("AccessKeyId")
	}
	secret, aerr := s.checkKey(ak, params["SecurityToken"])
	if aerr != nil {
		return credential{}, aerr
	}
	signedParams := map[string][]string{}
	for k, v := range params {
		if k != "Signature" {
			signedParams[k] = v
		}
	}
	sts := r.Method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(signedParams))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(first(params, "Signature"))) {
		return credential{}, newError(http.StatusBadRequest, codeSignatureMismatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	if aerr := s.useNonce(first(params, "SignatureNonce"), now); aerr != nil {
		return credential{}, aerr
	}
	return credential{AccessKeyID: ak, Style: "RPC"}, nil
}

// checkTime enforces the format and the allowed clock skew of x-acs-date / Timestamp.
func (s *Server) checkTime(v string, now time.Time) *apiError {
	t, err := time.Parse(acsDateLayout, v)
	if err != nil {
		return newError(http.StatusBadRequest, codeTimeFormat,
			"Specified time stamp or date value is not well formatted.")
	}
	if s.cfg.MaxSkew < 0 {
		return nil
	}
	if d := now.Sub(t); d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		return newError(http.StatusBadRequest, codeTimeExpired, "Specified time stamp or date value is expired.")
	}
	return nil
}

// checkKey returns the secret of ak after checking the STS security token rules.
func (s *Server) checkKey(ak string, tokens []string) (string, *apiError) {
	secret, ok := s.cfg.AccessKeys[ak]
	if !ok {
		return "", newError(http.StatusNotFound, codeAKNotFound, "Specified access key is not found.")
	}
	want, isSTS := s.cfg.SecurityTokens[ak]
	switch {
	case isSTS && len(tokens) == 0:
		return "", newError(http.StatusBadRequest, codeMissingToken, "SecurityToken is mandatory for this action.")
	case len(tokens) > 1, len(tokens) == 1 && (!isSTS || !hmac.Equal([]byte(tokens[0]), []byte(want))):
		return "", newError(http.StatusBadRequest, codeTokenMismatch, "Specified SecurityToken mismatch with the AccessKey.")
	}
	return secret, nil
}

// useNonce rejects a signature nonce seen within the skew window.
func (s *Server) useNonce(nonce string, now time.Time) *apiError {
	if nonce == "" {
		return errMissing("SignatureNonce")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	window := s.cfg.MaxSkew
	if window <= 0 {
		window = DefaultMaxSkew
	}
	for n, t := range s.nonces {
		if now.Sub(t) > window {
			delete(s.nonces, n)
		}
	}
	if _, seen := s.nonces[nonce]; seen {
		return newError(http.StatusBadRequest, codeNonceUsed, "Specified signature nonce was used already.")
	}
	s.nonces[nonce] = now
	return nil
}

// canonicalURI percent-encodes the path the RFC 3986 way, keeping "/".
func canonicalURI(escapedPath string) string {
	if escapedPath == "" {
		return "/"
	}
	segs := strings.Split(escapedPath, "/")
	for i, seg := range segs {
		segs[i] = percentEncode(unescapeOrSelf(seg))
	}
	return strings.Join(segs, "/")
}

func unescapeOrSelf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			h, _ := hex.DecodeString(s[i+1 : i+3])
			b.WriteByte(h[0])
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// canonicalQuery encodes every (name, value) pair and sorts them.
func canonicalQuery(q map[string][]string) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, pair{percentEncode(k), percentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

// percentEncode is RFC 3986 encoding: unreserved bytes literal, everything else %XX (upper-case).
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func first(m map[string][]string, k string) string {
	if v := m[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}
