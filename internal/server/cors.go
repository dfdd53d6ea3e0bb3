package server

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/tus/tusd/v2/pkg/handler"
)

// CORS values that differ from tusd's defaults. Browsers only let scripts
// read response headers listed in Access-Control-Expose-Headers.
const (
	extraExposeHeaders = "Upload-Expires, " + HeaderMediaID + ", " + HeaderMediaType + ", " + HeaderRequestID +
		", Retry-After, WWW-Authenticate, Idempotent-Replayed, Upload-Limit, Accept-Patch" + exposeChecksum
	extraAllowHeaders = "Idempotency-Key, Content-Disposition" + allowChecksum
	corsAllowMethods  = "POST, HEAD, PATCH, DELETE, OPTIONS"
	// The tus checksum extension (internal/checksum).
	exposeChecksum = ", Tus-Checksum-Algorithm"
	allowChecksum  = ", Upload-Checksum"
)

// CORSConfig returns tusd's CORS configuration for the allowed origins.
// An origin is "*" (any origin), an exact "scheme://host[:port]", or one
// with a wildcard host part such as "https://*.example.com". No origins
// disables CORS handling: no CORS headers are sent and cross-origin
// browser requests are blocked by the browser. The exposed headers are
// tusd's defaults plus Upload-Expires, Vod-Media-Id, Vod-Media-Type,
// X-Request-ID, Retry-After, WWW-Authenticate and Tus-Checksum-Algorithm;
// the allowed request headers are tusd's defaults (Authorization,
// X-Request-ID, X-HTTP-Method-Override and all tus headers) plus
// Idempotency-Key and Upload-Checksum.
func CORSConfig(origins []string) (*handler.CorsConfig, error) {
	c := handler.DefaultCorsConfig
	c.AllowMethods = corsAllowMethods
	c.ExposeHeaders += ", " + extraExposeHeaders
	c.AllowHeaders += ", " + extraAllowHeaders
	if len(origins) == 0 {
		c.Disable = true
		return &c, nil
	}
	pattern, err := originPattern(origins)
	if err != nil {
		return nil, err
	}
	c.AllowOrigin = regexp.MustCompile(pattern)
	return &c, nil
}

// originPattern turns allowed origins into tusd's AllowOrigin expression.
func originPattern(origins []string) (string, error) {
	alts := make([]string, 0, len(origins))
	for _, o := range origins {
		if err := ValidateOrigin(o); err != nil {
			return "", err
		}
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			return ".*", nil
		}
		q := regexp.QuoteMeta(o)
		alts = append(alts, strings.ReplaceAll(q, `\*`, `[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*`))
	}
	return "^(?:" + strings.Join(alts, "|") + ")$", nil
}

// ValidateOrigin reports whether o is usable as an allowed origin: "*" or
// an http(s) origin without path, query or fragment, where the host may
// start with "*." (any subdomain).
func ValidateOrigin(o string) error {
	o = strings.TrimRight(strings.TrimSpace(o), "/")
	if o == "*" {
		return nil
	}
	u, err := url.Parse(strings.Replace(o, "://*.", "://wildcard.", 1))
	switch {
	case err != nil:
		return fmt.Errorf("server: origin %q: %w", o, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("server: origin %q: scheme must be http or https", o)
	case u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("server: origin %q: want scheme://host[:port]", o)
	case strings.Contains(u.Host, "*"):
		return fmt.Errorf("server: origin %q: a wildcard is only allowed as the first host label", o)
	}
	return nil
}

// corsFallback adds the CORS response headers tusd would have sent to
// responses written before tusd ran (by [Config.TusMiddleware], e.g. an
// authentication failure), so browsers can read them. Responses that
// already carry Access-Control-Allow-Origin are left alone.
func corsFallback(cors *handler.CorsConfig, next http.Handler) http.Handler {
	if cors.Disable {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || r.Method == http.MethodOptions || !cors.AllowOrigin.MatchString(origin) {
			next.ServeHTTP(w, r)
			return
		}
		rw := wrapWriter(w)
		rw.beforeHeader(func(_ int, h http.Header) {
			if h.Get("Access-Control-Allow-Origin") != "" {
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if cors.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			h.Set("Access-Control-Expose-Headers", cors.ExposeHeaders)
			if h.Get("Tus-Resumable") == "" {
				h.Set("Tus-Resumable", "1.0.0")
			}
		})
		next.ServeHTTP(rw, r)
	})
}
