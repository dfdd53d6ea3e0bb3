package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of the request span besides the HTTP ones.
const (
	AttrTusMethod = attribute.Key("tus.method")      // POST, HEAD, PATCH, DELETE, OPTIONS (after X-HTTP-Method-Override)
	AttrUploadID  = attribute.Key("tus.upload_id")   // the upload's ID, from the URL or the creation's Location
	AttrOwner     = attribute.Key("vodgate.owner")   // the authenticated owner, when authentication is on
	AttrMediaID   = attribute.Key("vod.media_id")    // the Vod-Media-Id the response carries
	AttrRequestID = attribute.Key("http.request_id") // the X-Request-ID the response carries
)

// Middleware makes one server span per request to the tus endpoint (paths
// under basePath; other routes pass through untraced), continuing the
// client's W3C traceparent. The span is named "tus <METHOD>" and carries
// the tus method, upload ID, media ID, request ID and status; [Annotate]
// adds the owner. A 5xx marks the span as an error. It wraps the
// ResponseWriter with one that unwraps (http.ResponseController keeps
// working).
func (t *Tracing) Middleware(basePath string, next http.Handler) http.Handler {
	if !strings.HasSuffix(basePath, "/") {
		basePath += "/"
	}
	bare := strings.TrimSuffix(basePath, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != bare && !strings.HasPrefix(r.URL.Path, basePath) {
			next.ServeHTTP(w, r)
			return
		}
		method := r.Method
		if o := r.Header.Get("X-HTTP-Method-Override"); o != "" && r.Method == http.MethodPost {
			method = strings.ToUpper(o)
		}
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		attrs := []attribute.KeyValue{AttrTusMethod.String(method), semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path)}
		if id := uploadID(r.URL.Path, basePath); id != "" {
			attrs = append(attrs, AttrUploadID.String(id))
		}
		ctx, span := t.tracer.Start(ctx, "tus "+method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))

		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		h := w.Header()
		end := []attribute.KeyValue{semconv.HTTPResponseStatusCode(status)}
		if v := h.Get("Vod-Media-Id"); v != "" {
			end = append(end, AttrMediaID.String(v))
		}
		if v := h.Get("X-Request-ID"); v != "" {
			end = append(end, AttrRequestID.String(v))
		}
		if loc := h.Get("Location"); loc != "" && method == http.MethodPost {
			if i := strings.LastIndex(loc, "/"); i >= 0 && i < len(loc)-1 {
				end = append(end, AttrUploadID.String(loc[i+1:]))
			}
		}
		span.SetAttributes(end...)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// uploadID is the first path segment below basePath, or "".
func uploadID(path, basePath string) string {
	rest, ok := strings.CutPrefix(path, basePath)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// Annotate returns middleware that adds the owner (ownerOf reads it from
// the request context, e.g. auth.OwnerOf) to the request span. Install it
// inside authentication.
func Annotate(ownerOf func(context.Context) (string, bool)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
				if owner, ok := ownerOf(r.Context()); ok && owner != "" {
					span.SetAttributes(AttrOwner.String(owner))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// statusWriter records the response status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
