package resumable

import (
	"context"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Header fields and values of the draft.
const (
	HeaderInteropVersion = "Upload-Draft-Interop-Version"
	HeaderComplete       = "Upload-Complete"
	HeaderIncomplete     = "Upload-Incomplete" // interop 3
	HeaderLimit          = "Upload-Limit"
	HeaderOffset         = "Upload-Offset"
	HeaderLength         = "Upload-Length"
	PartialUpload        = "application/partial-upload"
	ProblemJSON          = "application/problem+json"
)

// Problem types the draft registers (interop 6 onward; inconsistent
// length from interop 7).
const (
	ProblemMismatchingOffset  = "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
	ProblemCompletedUpload    = "https://iana.org/assignments/http-problem-types#completed-upload"
	ProblemInconsistentLength = "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
)

// Interop versions: tusd speaks up to tusdVersion; the gateway up to
// MaxVersion.
const (
	MinVersion  = 3
	MaxVersion  = 8
	tusdVersion = 6
)

// State is what the middleware needs to know of an upload, read without
// its lock.
type State struct {
	Found    bool      // false: no such upload (any more)
	Offset   int64     // durable offset
	Size     int64     // length, unless Deferred
	Deferred bool      // length not known yet
	Finished bool      // complete: every byte in and the object finished
	Expires  time.Time // zero: does not expire (finished)
}

// Uploads reads an upload's state. *tusstore.Store's Admit and Progress
// back it in cmd/gateway. State runs before the server's ownership gate,
// so it must report Found false for an upload the caller in ctx may not
// act on. Implementations must be safe for concurrent use.
type Uploads interface {
	State(ctx context.Context, id string) (State, error)
}

// Config configures [Middleware].
type Config struct {
	// BasePath is the tus base path, with leading and trailing slash.
	BasePath string
	// MaxSize is the largest upload (max-size and max-append-size in
	// Upload-Limit); 0: none announced.
	MaxSize int64
	// Expiration is how long an unfinished upload lives after its last
	// write (max-age on OPTIONS and 104); 0: not announced.
	Expiration time.Duration
	// Uploads reads upload state for Upload-Complete, max-age and the
	// offset in 409 responses. Required.
	Uploads Uploads
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Registerer, if set, receives vodgate_resumable_requests_total
	// {interop, method}: draft requests by interop version.
	Registerer prometheus.Registerer
}

// Version returns the supported interop version a request names in
// Upload-Draft-Interop-Version (an sf-integer), or 0 when it names none
// or one the gateway does not speak (the request is then tus).
func Version(h http.Header) int {
	v, err := strconv.Atoi(strings.TrimSpace(h.Get(HeaderInteropVersion)))
	if err != nil || v < MinVersion || v > MaxVersion {
		return 0
	}
	return v
}

// Middleware returns the draft layer around a tusd handler whose
// EnableExperimentalProtocol is on (see the package documentation).
// Requests without a supported interop version pass through unchanged,
// except that OPTIONS responses also announce Upload-Limit. It fails only
// if the metric cannot be registered.
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &layer{cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vodgate_resumable_requests_total",
		Help: "Requests in the IETF resumable-upload draft, by interop version and method.",
	}, []string{"interop", "method"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(m.requests); err != nil {
			return nil, fmt.Errorf("resumable: register metrics: %w", err)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(next, w, r) })
	}, nil
}

type layer struct {
	cfg      Config
	requests *prometheus.CounterVec
}

func (m *layer) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if o := r.Header.Get("X-HTTP-Method-Override"); method == http.MethodPost && o != "" {
		method = strings.ToUpper(o)
	}
	v := Version(r.Header)
	if v == 0 && method != http.MethodOptions {
		next.ServeHTTP(w, r)
		return
	}
	if v != 0 {
		r = m.translate(r, v)
		m.requests.WithLabelValues(strconv.Itoa(v), methodLabel(method)).Inc()
	}
	if v >= tusdVersion && method == http.MethodPatch {
		// From draft -04 an append must be labelled application/partial-upload
		// (tusd answers 400 and compares the header literally).
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != PartialUpload {
			body := "ERR_INVALID_CONTENT_TYPE: an append needs Content-Type " + PartialUpload + "\n"
			h := w.Header()
			h.Set(HeaderInteropVersion, strconv.Itoa(v))
			setComplete(h, v, false)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusUnsupportedMediaType)
			_, _ = w.Write([]byte(body))
			return
		}
		r.Header.Set("Content-Type", PartialUpload)
	}
	id := m.idFromPath(r.URL.Path)
	if v >= 7 && method == http.MethodPatch && !m.appendLengthOK(r, id) {
		m.writeProblem(w, v, http.StatusBadRequest, ProblemInconsistentLength, "inconsistent length values for upload", nil)
		return
	}
	rw := &writer{ResponseWriter: w, m: m, r: r, method: method, v: v, id: id}
	next.ServeHTTP(rw, r)
	rw.finishHeld()
}

// appendLengthOK checks, from interop 7, the lengths an append at the
// upload's offset indicates (Upload-Length, or Upload-Complete: ?1 with a
// Content-Length: offset plus Content-Length) against the recorded one.
// A repeated Upload-Length that matches is removed, since tusd refuses
// Upload-Length on an append unless the length is deferred.
func (m *layer) appendLengthOK(r *http.Request, id string) bool {
	ulen := strings.TrimSpace(r.Header.Get(HeaderLength))
	complete, _ := parseBool(r.Header.Get(HeaderComplete))
	if id == "" || (ulen == "" && !(complete && r.ContentLength >= 0)) {
		return true
	}
	st := m.state(r.Context(), id)
	if !st.Found || st.Deferred || st.Finished {
		return true
	}
	if ulen != "" {
		n, err := strconv.ParseInt(ulen, 10, 64)
		if err == nil && n != st.Size {
			return false
		}
		r.Header.Del(HeaderLength) // matching, or not an integer: ignored
	}
	off, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get(HeaderOffset)), 10, 64)
	return !(complete && r.ContentLength >= 0 && err == nil && off == st.Offset && off+r.ContentLength != st.Size)
}

// methodLabel bounds the method label to the draft's methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// translate hands interop 7 and 8 to tusd as 6 and normalises the
// structured-field booleans tusd compares literally.
func (m *layer) translate(r *http.Request, v int) *http.Request {
	r = r.Clone(r.Context())
	r.Header.Set(HeaderInteropVersion, strconv.Itoa(min(v, tusdVersion))) // tusd compares literally
	for _, name := range []string{HeaderComplete, HeaderIncomplete} {
		if b, ok := parseBool(r.Header.Get(name)); ok {
			r.Header.Set(name, sfBool(b))
		} else {
			r.Header.Del(name)
		}
	}
	return r
}

// parseBool parses an sf-boolean item, ignoring parameters.
func parseBool(s string) (bool, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "?1":
		return true, true
	case "?0":
		return false, true
	}
	return false, false
}

func sfBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

func (m *layer) idFromPath(p string) string {
	rest, ok := strings.CutPrefix(p, m.cfg.BasePath)
	if !ok {
		return ""
	}
	return strings.Trim(rest, "/")
}

func (m *layer) idFromLocation(loc string) string {
	u, err := url.Parse(loc)
	if loc == "" || err != nil {
		return ""
	}
	return m.idFromPath(u.Path)
}

// limits renders Upload-Limit for interop v (0: no version, as the newest
// draft): age is the remaining lifetime, negative when unknown.
func (m *layer) limits(v int, age time.Duration) string {
	var b []string
	if m.cfg.MaxSize > 0 {
		b = append(b, "max-size="+strconv.FormatInt(m.cfg.MaxSize, 10))
	}
	b = append(b, "min-size=0")
	if m.cfg.MaxSize > 0 {
		b = append(b, "max-append-size="+strconv.FormatInt(m.cfg.MaxSize, 10))
	}
	if age >= 0 {
		key := "max-age"
		if v != 0 && v <= tusdVersion {
			key = "expires" // renamed to max-age in draft -06 (interop 7)
		}
		b = append(b, key+"="+strconv.FormatInt(int64(math.Ceil(age.Seconds())), 10))
	}
	return strings.Join(b, ", ")
}

// setComplete sets Upload-Complete, or Upload-Incomplete for interop 3.
func setComplete(h http.Header, v int, complete bool) {
	if v == 3 {
		h.Set(HeaderIncomplete, sfBool(!complete))
		return
	}
	h.Set(HeaderComplete, sfBool(complete))
}

// state reads id's state; a failed read counts as not found.
func (m *layer) state(ctx context.Context, id string) State {
	if id == "" {
		return State{}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	st, err := m.cfg.Uploads.State(ctx, id)
	if err != nil {
		return State{}
	}
	return st
}

func (m *layer) age(st State) time.Duration {
	if !st.Found || st.Expires.IsZero() {
		return -1
	}
	return max(st.Expires.Sub(m.cfg.Now()), 0)
}

// validLength reports whether a request's Upload-Length is a well-formed
// length, so tusd's refusal of it means it contradicts another indicator.
func validLength(h http.Header) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(h.Get(HeaderLength)), 10, 64)
	return err == nil && n >= 0
}
