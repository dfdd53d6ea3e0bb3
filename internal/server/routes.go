package server

import (
	"net/http"

	"github.com/tus/tusd/v2/pkg/handler"
)

// withCORS answers CORS preflights for a JSON route (one that is not
// tusd's) and adds the CORS response headers for allowed origins, with the
// origins the tus endpoint allows. With CORS off it returns next.
func withCORS(cors *handler.CorsConfig, methods string, next http.Handler) http.Handler {
	if cors == nil || cors.Disable {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !cors.AllowOrigin.MatchString(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if cors.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", cors.MaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, WWW-Authenticate")
		next.ServeHTTP(w, r)
	})
}
