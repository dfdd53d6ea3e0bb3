package osstest

import (
	"crypto/hmac"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxSkew is how far a request's Date (or x-oss-date) may be from the
// server's Clock before OSS answers RequestTimeTooSkewed.
const MaxSkew = 15 * time.Minute

const (
	v1Prefix = "OSS "
	v4Prefix = "OSS4-HMAC-SHA256 "
)

// authRequest is what authenticate needs from a request.
type authRequest struct {
	r      *http.Request
	bucket string
	key    string
	query  url.Values
}

// authenticate verifies the Authorization header and returns the access key
// id. The order of checks follows OSS: header syntax, access key, security
// token, token expiry, request time, signature, then the token's scope.
func (s *Server) authenticate(a authRequest) (string, *ossError) {
	r := a.r
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", errAccessDenied("You have no right to access this object because of bucket acl.", "0003-00000001")
	}
	var (
		ak, sig string
		v4      *v4Request
		cred    []string
	)
	switch {
	case strings.HasPrefix(auth, v4Prefix):
		var e *ossError
		v4, ak, sig, cred, e = parseV4(auth[len(v4Prefix):])
		if e != nil {
			return "", e
		}
	case strings.HasPrefix(auth, v1Prefix):
		var ok bool
		ak, sig, ok = strings.Cut(strings.TrimSpace(auth[len(v1Prefix):]), ":")
		if !ok || ak == "" || sig == "" {
			return "", errInvalidArgument("Authorization header is invalid.", "Authorization", auth)
		}
		if s.cfg.RefuseV1 {
			return ak, errAccessDenied("Signature version 1 is not allowed for this account; use signature version 4.", "0002-00000050")
		}
	default:
		return "", errInvalidArgument("Authorization header is invalid.", "Authorization", auth)
	}

	c, e := s.checkCredential(r, a.query, ak)
	if e != nil {
		return ak, e
	}

	// Request time: V1 uses Date; V4 uses x-oss-date when present, else Date.
	stamp, t, e := requestTime(r.Header, v4 != nil)
	if e != nil {
		return ak, e
	}
	now := s.now()
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return ak, newErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", "0002-00000504").
			with("RequestTime", stamp).with("ServerTime", now.UTC().Format("2006-01-02T15:04:05.000Z")).
			with("MaxAllowedSkewMilliseconds", "900000")
	}

	if v4 == nil {
		sts := v1StringToSign(r.Method, r.Header, a.bucket, a.key, a.query)
		if want := signV1(c.secret, sts); !hmac.Equal([]byte(want), []byte(sig)) {
			return ak, errSignature(sts, sig, ak, "", "0002-00000040")
		}
	} else {
		date, region := cred[1], cred[2]
		if date != t.UTC().Format("20060102") {
			return ak, errInvalidArgument("Invalid signing date in Authorization header.", "Credential", strings.Join(cred, "/"))
		}
		if region != s.cfg.Region {
			return ak, errInvalidArgument("Invalid signing region in Authorization header.", "Credential", strings.Join(cred, "/"))
		}
		if r.Header.Get("X-Oss-Content-Sha256") == "" {
			return ak, errInvalidArgument("Missing required header for this request: x-oss-content-sha256.", "x-oss-content-sha256", "")
		}
		v4.method, v4.bucket, v4.key, v4.query = r.Method, a.bucket, a.key, a.query
		v4.header, v4.host, v4.timestamp = r.Header, r.Host, stamp
		v4.scope = strings.Join(cred[1:], "/")
		canon := v4.canonicalRequest()
		sts := v4.stringToSign(canon)
		if want := signV4(c.secret, date, region, sts); !hmac.Equal([]byte(want), []byte(sig)) {
			return ak, errSignature(sts, sig, ak, canon, "")
		}
	}

	if !c.allows(a.bucket, a.key) {
		return ak, errAccessDenied("You have no right to access this resource because of sts policy.", "0003-00000301")
	}
	return ak, nil
}

// checkCredential applies the access key and security token rules.
func (s *Server) checkCredential(r *http.Request, q url.Values, ak string) (credential, *ossError) {
	token := r.Header.Get("X-Oss-Security-Token")
	if token == "" {
		token = q.Get("security-token")
	}
	c, ok, tokenKnown := s.lookupCred(ak, token)
	switch {
	case !ok && token != "":
		return c, errInvalidAK(ak, "", "0002-00000002")
	case !ok:
		return c, errInvalidAK(ak, "", "0002-00000003")
	case !c.sts && token != "":
		// A token makes OSS treat the request as STS; a long-lived key is no STS key.
		return c, errInvalidAK(ak, "", "0002-00000002")
	}
	if c.sts && c.token != "" {
		switch {
		case token == "":
			return c, errInvalidAK(ak, " The Security Token may be lost to specify that it is a STS Access Id.", "0002-00000003")
		case token != c.token && tokenKnown:
			return c, newErr(403, "AccessKeyIdAndSecurityTokenNotMatch",
				"The AccessKeyId and SecurityToken you provided do not match.", "0002-00000004").with("OSSAccessKeyId", ak)
		case token != c.token:
			return c, newErr(403, "InvalidSecurityToken", "The security token you provided is invalid.", "0002-00000006")
		}
	}
	if c.sts && !c.expires.IsZero() && !s.now().Before(c.expires) {
		return c, newErr(403, "SecurityTokenExpired", "The security token you provided has expired.", "0002-00000007").
			with("SecurityToken", token)
	}
	return c, nil
}

func errInvalidAK(ak, hint, ec string) *ossError {
	return newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."+hint, ec).
		with("OSSAccessKeyId", ak)
}

func errSignature(sts, provided, ak, canonical, ec string) *ossError {
	e := newErr(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. "+
		"Check your key and signing method.", ec)
	e.with("StringToSign", sts).with("StringToSignBytes", bytesHex(sts))
	if canonical != "" {
		e.with("CanonicalRequest", canonical)
	}
	return e.with("SignatureProvided", provided).with("OSSAccessKeyId", ak)
}

// parseV4 parses the part after "OSS4-HMAC-SHA256 ": comma-separated
// Credential=, optional AdditionalHeaders= and Signature=, with or without
// spaces after the commas.
func parseV4(s string) (v *v4Request, ak, sig string, cred []string, e *ossError) {
	v = &v4Request{}
	bad := func(msg string) (*v4Request, string, string, []string, *ossError) {
		return nil, "", "", nil, errInvalidArgument(msg, "Authorization", s)
	}
	var haveCred, haveSig bool
	for _, f := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return bad("Authorization header is invalid.")
		}
		switch name {
		case "Credential":
			cred = strings.Split(val, "/")
			if len(cred) != 5 || cred[0] == "" || len(cred[1]) != 8 || cred[2] == "" {
				return bad("Invalid credential in Authorization header.")
			}
			if cred[3] != "oss" || cred[4] != "aliyun_v4_request" {
				return bad("Invalid credential in Authorization header.")
			}
			haveCred = true
		case "AdditionalHeaders":
			if val == "" {
				e := errInvalidArgument("AdditionalHeaders is empty.", "AdditionalHeaders", "")
				e.ec = "0002-00000209"
				return nil, "", "", nil, e
			}
			for _, h := range strings.Split(val, ";") {
				v.additional = append(v.additional, strings.ToLower(strings.TrimSpace(h)))
			}
		case "Signature":
			sig, haveSig = val, val != ""
		default:
			return bad("Authorization header is invalid.")
		}
	}
	if !haveCred || !haveSig {
		return bad("Authorization header is invalid.")
	}
	return v, cred[0], sig, cred, nil
}

// requestTime returns the raw timestamp used in the string to sign and its
// parsed value.
func requestTime(h http.Header, v4 bool) (string, time.Time, *ossError) {
	if v4 {
		if d := h.Get("X-Oss-Date"); d != "" {
			t, err := time.Parse("20060102T150405Z", d)
			if err != nil {
				return "", time.Time{}, errAccessDenied("Invalid x-oss-date header: "+d, "0002-00000505")
			}
			return d, t, nil
		}
	}
	d := h.Get("Date")
	if d == "" {
		return "", time.Time{}, errAccessDenied("Missing Date Header.", "")
	}
	t, err := http.ParseTime(d)
	if err != nil {
		return "", time.Time{}, errAccessDenied("Invalid Date header: "+d, "0002-00000505")
	}
	return d, t, nil
}
