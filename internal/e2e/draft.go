package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A client of the IETF "Resumable Uploads for HTTP" draft
// (draft-ietf-httpbis-resumable-upload), written from the draft text, not
// from tusd: interop 3 (-01) marks completeness with Upload-Incomplete,
// 4 (-02) onward with Upload-Complete; 6 (-04) onward labels appends
// application/partial-upload and knows Upload-Limit and Upload-Length;
// every request names its interop version, and a 104 naming another one
// is ignored.

// draftClient speaks one interop version.
type draftClient struct {
	v    int
	c    *http.Client
	auth string // Authorization, if any
}

func newDraftClient(v int) *draftClient {
	return &draftClient{v: v, c: &http.Client{Timeout: 2 * time.Minute}}
}

// interim is one informational response.
type interim struct {
	Code   int
	Header http.Header
}

// draftResp is a final response with the interim responses before it.
type draftResp struct {
	Status  int
	Header  http.Header
	Body    string
	Interim []interim
}

// complete reports the Upload-Complete (Upload-Incomplete for interop 3)
// of a response, and whether it had one.
func (d *draftClient) complete(h http.Header) (bool, bool) {
	if d.v == 3 {
		switch h.Get("Upload-Incomplete") {
		case "?0":
			return true, true
		case "?1":
			return false, true
		}
		return false, false
	}
	switch h.Get("Upload-Complete") {
	case "?1":
		return true, true
	case "?0":
		return false, true
	}
	return false, false
}

func (d *draftClient) setComplete(h http.Header, complete bool) {
	if d.v == 3 {
		h.Set("Upload-Incomplete", sfBool(!complete))
		return
	}
	h.Set("Upload-Complete", sfBool(complete))
}

func sfBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// location104 returns the upload URL of the first 104 that names the
// client's interop version.
func (d *draftClient) location104(r draftResp) string {
	for _, i := range r.Interim {
		if i.Code == 104 && i.Header.Get("Upload-Draft-Interop-Version") == strconv.Itoa(d.v) && i.Header.Get("Location") != "" {
			return i.Header.Get("Location")
		}
	}
	return ""
}

// do sends one request; body of length bytes (-1: unknown). got104, if
// set, is called with each 104's header as it arrives.
func (d *draftClient) do(ctx context.Context, method, target string, hdr http.Header, body io.Reader, length int64, got104 func(http.Header)) (draftResp, error) {
	var res draftResp
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		res.Interim = append(res.Interim, interim{Code: code, Header: http.Header(h).Clone()})
		mu.Unlock()
		if code == 104 && got104 != nil {
			got104(http.Header(h))
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, target, body)
	if err != nil {
		return res, err
	}
	if body != nil {
		req.ContentLength = length
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Upload-Draft-Interop-Version", strconv.Itoa(d.v))
	if d.auth != "" {
		req.Header.Set("Authorization", d.auth)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	mu.Lock()
	defer mu.Unlock()
	res.Status, res.Header, res.Body = resp.StatusCode, resp.Header, string(b)
	return res, err
}

// create sends an upload creation with data (all of the representation
// when complete). size is the representation's length, announced in
// Upload-Length from interop 6 on when >= 0.
func (d *draftClient) create(t testing.TB, endpoint, filename string, data []byte, complete bool, size int64) draftResp {
	t.Helper()
	h := http.Header{}
	d.setComplete(h, complete)
	if filename != "" {
		h.Set("Content-Disposition", `inline; filename="`+filename+`"`)
	}
	if d.v >= 6 && size >= 0 {
		h.Set("Upload-Length", strconv.FormatInt(size, 10))
	}
	r, err := d.do(context.Background(), http.MethodPost, endpoint, h, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("interop %d: POST %s: %v", d.v, endpoint, err)
	}
	return r
}

// appendData sends an upload append of data at off.
func (d *draftClient) appendData(t testing.TB, uploadURL string, off int64, data []byte, complete bool) draftResp {
	t.Helper()
	h := http.Header{}
	d.setComplete(h, complete)
	h.Set("Upload-Offset", strconv.FormatInt(off, 10))
	if d.v >= 6 {
		h.Set("Content-Type", "application/partial-upload")
	}
	r, err := d.do(context.Background(), http.MethodPatch, uploadURL, h, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("interop %d: PATCH %s: %v", d.v, uploadURL, err)
	}
	return r
}

// offset retrieves the offset with HEAD; it fails the test unless the
// response is 2xx with an Upload-Offset.
func (d *draftClient) offset(t testing.TB, uploadURL string) (int64, draftResp) {
	t.Helper()
	r, err := d.do(context.Background(), http.MethodHead, uploadURL, http.Header{}, nil, 0, nil)
	if err != nil {
		t.Fatalf("interop %d: HEAD %s: %v", d.v, uploadURL, err)
	}
	off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if r.Status/100 != 2 || err != nil {
		t.Fatalf("interop %d: HEAD %s: %d, Upload-Offset %q", d.v, uploadURL, r.Status, r.Header.Get("Upload-Offset"))
	}
	return off, r
}

var errInterrupted = errors.New("interrupted by the test")

// createInterrupted starts an optimistic creation of all of src, waits for
// the 104 with the upload URL, sends sent bytes and then breaks the
// connection. It returns the upload URL from the 104.
func (d *draftClient) createInterrupted(t testing.TB, endpoint, filename string, src source, sent int64) string {
	t.Helper()
	f, err := os.Open(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	loc := make(chan string, 1)
	h := http.Header{}
	d.setComplete(h, true)
	h.Set("Content-Disposition", `inline; filename="`+filename+`"`)
	if d.v >= 6 {
		h.Set("Upload-Length", strconv.FormatInt(src.Size, 10))
	}
	type result struct {
		r   draftResp
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := d.do(context.Background(), http.MethodPost, endpoint, h, pr, src.Size, func(h http.Header) {
			if h.Get("Upload-Draft-Interop-Version") == strconv.Itoa(d.v) && h.Get("Location") != "" {
				select {
				case loc <- h.Get("Location"):
				default:
				}
			}
		})
		done <- result{r, err}
	}()
	var u string
	select {
	case u = <-loc:
	case res := <-done:
		t.Fatalf("interop %d: creation ended before a 104: %v (status %d)", d.v, res.err, res.r.Status)
	case <-time.After(30 * time.Second):
		t.Fatalf("interop %d: no 104 Upload Resumption Supported within 30s", d.v)
	}
	if _, err := io.CopyN(pw, f, sent); err != nil {
		t.Fatalf("send %d bytes: %v", sent, err)
	}
	pw.CloseWithError(errInterrupted)
	// The cut fails the request, or (HTTP/3 ends the stream early rather
	// than resetting it) gets an error response for the short body.
	if res := <-done; res.err == nil && res.r.Status/100 == 2 {
		t.Fatalf("interop %d: interrupted creation succeeded: %d", d.v, res.r.Status)
	}
	return absURL(t, endpoint, u)
}
