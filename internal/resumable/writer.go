package resumable

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// problem is an RFC 9457 body with the draft's extension members.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Expected *int64 `json:"expected-offset,omitempty"`
	Provided *int64 `json:"provided-offset,omitempty"`
}

func (m *layer) writeProblem(w http.ResponseWriter, v, status int, typ, title string, p *problem) {
	if p == nil {
		p = &problem{}
	}
	p.Type, p.Title = typ, title
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set(HeaderInteropVersion, strconv.Itoa(v))
	if typ != ProblemCompletedUpload {
		setComplete(h, v, false)
	}
	h.Set("Content-Type", ProblemJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writer completes the headers of draft responses, and holds 400 and 409
// responses (small, written by tusd after its work) until the handler
// returns, to turn them into problem details.
type writer struct {
	http.ResponseWriter
	m      *layer
	r      *http.Request
	method string
	v      int
	id     string

	wrote bool
	held  int
	body  bytes.Buffer
}

func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *writer) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.held == 0 {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.held != 0 {
		return w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *writer) WriteHeader(code int) {
	if w.wrote {
		return
	}
	h := w.Header()
	if code >= 100 && code < 200 {
		if code == 104 && w.v != 0 {
			h.Set(HeaderInteropVersion, strconv.Itoa(w.v))
			h.Set(HeaderLimit, w.m.limits(w.v, w.m.expiration()))
		}
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wrote = true
	if w.v != 0 && h.Get(HeaderInteropVersion) != "" {
		h.Set(HeaderInteropVersion, strconv.Itoa(w.v))
	}
	if w.v != 0 && (code == http.StatusConflict && w.method == http.MethodPatch ||
		code == http.StatusBadRequest && w.v >= 7 && (w.method == http.MethodPatch || w.method == http.MethodPost)) {
		w.held = code
		return
	}
	w.complete(code, h)
	w.ResponseWriter.WriteHeader(code)
}

func (m *layer) expiration() time.Duration {
	if m.cfg.Expiration <= 0 {
		return -1
	}
	return m.cfg.Expiration
}

// complete adds the draft's headers to a final response that is not held.
func (w *writer) complete(code int, h http.Header) {
	ok := code >= 200 && code < 300
	switch w.method {
	case http.MethodOptions:
		h.Set(HeaderLimit, w.m.limits(w.v, w.m.expiration()))
		h.Set("Accept-Patch", PartialUpload)
	case http.MethodPost, http.MethodPatch:
		if code == http.StatusRequestEntityTooLarge {
			h.Set(HeaderLimit, w.m.limits(w.v, -1))
		}
		id := w.id
		if w.method == http.MethodPost {
			id = w.m.idFromLocation(h.Get("Location"))
		}
		if !ok {
			if id != "" || w.method == http.MethodPatch {
				setComplete(h, w.v, false)
			}
			return
		}
		st := w.m.state(w.r.Context(), id)
		setComplete(h, w.v, st.Finished)
		h.Set(HeaderLimit, w.m.limits(w.v, w.m.age(st)))
	case http.MethodHead:
		if ok {
			h.Set(HeaderLimit, w.m.limits(w.v, w.m.age(w.m.state(w.r.Context(), w.id))))
			h.Set("Cache-Control", "no-store")
		}
	}
}

// finishHeld writes a held 400 or 409 response, as problem details where
// the draft defines them.
func (w *writer) finishHeld() {
	if w.held == 0 {
		return
	}
	h, rw := w.Header(), w.ResponseWriter
	code, tusBody := w.held, w.body.Bytes()
	w.held = 0
	switch {
	case code == http.StatusConflict && bytes.HasPrefix(tusBody, []byte("ERR_MISMATCHED_OFFSET")):
		st := w.m.state(w.r.Context(), w.id)
		if st.Found {
			h.Set(HeaderOffset, strconv.FormatInt(st.Offset, 10))
		}
		if w.v < tusdVersion {
			break
		}
		if st.Finished {
			h.Del(HeaderOffset)
			w.m.writeProblem(rw, w.v, http.StatusBadRequest, ProblemCompletedUpload, "upload is already completed", nil)
			return
		}
		provided, _ := strconv.ParseInt(strings.TrimSpace(w.r.Header.Get(HeaderOffset)), 10, 64)
		p := &problem{Provided: &provided}
		if st.Found {
			p.Expected = &st.Offset
		}
		w.m.writeProblem(rw, w.v, http.StatusConflict, ProblemMismatchingOffset,
			"offset from request does not match offset of resource", p)
		return
	case code == http.StatusBadRequest && bytes.HasPrefix(tusBody, []byte("ERR_INVALID_UPLOAD_LENGTH")) && validLength(w.r.Header):
		w.m.writeProblem(rw, w.v, http.StatusBadRequest, ProblemInconsistentLength, "inconsistent length values for upload", nil)
		return
	}
	setComplete(h, w.v, false)
	h.Set("Content-Length", strconv.Itoa(len(tusBody)))
	rw.WriteHeader(code)
	if w.r.Method != http.MethodHead {
		_, _ = rw.Write(tusBody)
	}
}
