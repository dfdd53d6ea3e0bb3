package server

import (
	"errors"
	"net/http"
	"net/url"
)

// ParsePublicURL parses the public-url setting: an absolute http or https
// URL with a host and nothing else (no user, path, query or fragment).
func ParsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("want an http or https URL such as https://upload.example.com")
	case u.Host == "" || u.User != nil:
		return nil, errors.New("want a host and no user name")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("want scheme and host only; the tus path is base-path")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// withPublicLocation replaces the scheme and host of a Location header
// (tusd builds it from the request's Host or forwarded headers) with
// public's, so a client cannot make the gateway hand out upload URLs on a
// host of its choosing.
func withPublicLocation(public *url.URL, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := wrapWriter(w)
		rewrite := func(_ int, h http.Header) {
			loc := h.Get("Location")
			if loc == "" {
				return
			}
			u, err := url.Parse(loc)
			if err != nil {
				h.Del("Location")
				return
			}
			u.Scheme, u.Host, u.User = public.Scheme, public.Host, nil
			h.Set("Location", u.String())
		}
		rw.beforeHeader(rewrite)
		rw.beforeInterim(rewrite) // the draft's 104 carries the upload URL
		next.ServeHTTP(rw, r)
	})
}
