package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// draftEnv gives the draft tests small OSS parts, so a few MiB cross
// several parts and an interruption lands inside a multipart upload.
var draftEnv = map[string]string{"VODGATE_PART_SIZE": "1MiB"}

// checkDraftResponse asserts what every draft response of a finished or
// unfinished upload carries: the interop version where a 104 or HEAD
// names it, Upload-Complete as wanted and, from interop 6, Upload-Limit.
func checkDraftResponse(t *testing.T, d *draftClient, what string, r draftResp, wantComplete bool) {
	t.Helper()
	if got, ok := d.complete(r.Header); !ok || got != wantComplete {
		t.Errorf("interop %d %s: complete = %v (present %v), want %v; headers %v", d.v, what, got, ok, wantComplete, r.Header)
	}
	if d.v >= 6 && !strings.Contains(r.Header.Get("Upload-Limit"), "max-size=") {
		t.Errorf("interop %d %s: Upload-Limit = %q, want max-size", d.v, what, r.Header.Get("Upload-Limit"))
	}
}

// limitKeys parses an Upload-Limit dictionary of integers.
func limitKeys(t *testing.T, v string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(m), "=")
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil {
			t.Fatalf("Upload-Limit %q: member %q is not key=integer", v, m)
		}
		out[k] = n
	}
	return out
}

// TestDraftUploads uploads with each interop version of the IETF draft:
// in one request, interrupted mid-body and resumed from HEAD, and appended
// in pieces; each object must have the source's SHA-256 and the media ID
// must come back.
func TestDraftUploads(t *testing.T) {
	s := newStack(t, stackOptions{Env: draftEnv})
	for _, v := range []int{3, 4, 5, 6, 7, 8} {
		t.Run("interop"+strconv.Itoa(v), func(t *testing.T) {
			d := newDraftClient(v)
			t.Run("one request", func(t *testing.T) { draftOneRequest(t, s, d) })
			t.Run("interrupted", func(t *testing.T) { draftInterrupted(t, s, d, s.GW, s.GW) })
			t.Run("pieces", func(t *testing.T) { draftPieces(t, s, d) })
		})
	}
}

func draftOneRequest(t *testing.T, s *stack, d *draftClient) {
	src := makeSource(t, 2*MiB+100, uint64(1000+d.v))
	r := d.create(t, s.GW.Endpoint(), "one.mp4", src.readRange(t, 0, src.Size), true, src.Size)
	if r.Status/100 != 2 {
		t.Fatalf("interop %d POST: %d %s", d.v, r.Status, r.Body)
	}
	loc := d.location104(r)
	if loc == "" {
		t.Fatalf("interop %d POST: no 104 with Location and interop version; interim %+v", d.v, r.Interim)
	}
	if !strings.HasPrefix(loc, s.GW.Endpoint()) {
		t.Errorf("104 Location = %q, want under %s", loc, s.GW.Endpoint())
	}
	if lim := r.Interim[0].Header.Get("Upload-Limit"); d.v >= 6 && !strings.Contains(lim, "max-size=") {
		t.Errorf("104 Upload-Limit = %q", lim)
	}
	checkDraftResponse(t, d, "POST", r, true)
	s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)
}

// draftInterrupted creates on a, breaks the connection mid-body, and
// resumes on b from HEAD.
func draftInterrupted(t *testing.T, s *stack, d *draftClient, a, b *gatewayProc) {
	src := makeSource(t, 3*MiB+321, uint64(2000+d.v))
	sent := int64(2*MiB + 7)
	u := d.createInterrupted(t, a.Endpoint(), "cut.mp4", src, sent)
	u = onHost(t, u, b)
	// A client backs off before it resumes; a HEAD at once would (rightly)
	// interrupt the creation while the gateway still reads what was sent.
	time.Sleep(time.Second)
	off, h := d.offset(t, u)
	t.Logf("interop %d: %d of %d bytes sent before the cut, HEAD on %s says %d", d.v, sent, src.Size, b.name, off)
	if off <= 0 || off > sent {
		t.Fatalf("HEAD Upload-Offset = %d, want in (0, %d]", off, sent)
	}
	if h.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("HEAD Cache-Control = %q, want no-store", h.Header.Get("Cache-Control"))
	}
	checkDraftResponse(t, d, "HEAD", h, false)
	if d.v >= 6 && h.Header.Get("Upload-Length") != strconv.FormatInt(src.Size, 10) {
		t.Errorf("HEAD Upload-Length = %q, want %d", h.Header.Get("Upload-Length"), src.Size)
	}
	if d.v >= 6 {
		key := "max-age"
		if d.v == 6 {
			key = "expires"
		}
		if lim := limitKeys(t, h.Header.Get("Upload-Limit")); lim[key] <= 0 {
			t.Errorf("HEAD Upload-Limit %v: want %s > 0", lim, key)
		}
	}
	r := d.appendData(t, u, off, src.readRange(t, off, src.Size-off), true)
	if r.Status/100 != 2 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	checkDraftResponse(t, d, "final PATCH", r, true)
	s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)
}

func draftPieces(t *testing.T, s *stack, d *draftClient) {
	src := makeSource(t, 3*MiB+555, uint64(3000+d.v))
	piece := int64(1*MiB + 200*KiB)
	r := d.create(t, s.GW.Endpoint(), "pieces.mov", src.readRange(t, 0, piece), false, src.Size)
	if r.Status != http.StatusCreated || r.Header.Get("Location") == "" {
		t.Fatalf("POST: %d %s (Location %q)", r.Status, r.Body, r.Header.Get("Location"))
	}
	checkDraftResponse(t, d, "POST incomplete", r, false)
	u := absURL(t, s.GW.Endpoint(), r.Header.Get("Location"))
	if d.location104(r) != r.Header.Get("Location") {
		t.Errorf("104 Location %q differs from the final one %q", d.location104(r), r.Header.Get("Location"))
	}

	// An append at the wrong offset: 409 with the offset.
	bad := d.appendData(t, u, piece+1, []byte("x"), false)
	if bad.Status != http.StatusConflict || bad.Header.Get("Upload-Offset") != strconv.FormatInt(piece, 10) {
		t.Errorf("PATCH at a wrong offset: %d Upload-Offset %q, want 409 and %d", bad.Status, bad.Header.Get("Upload-Offset"), piece)
	}
	if d.v >= 6 {
		var p struct {
			Type     string `json:"type"`
			Expected int64  `json:"expected-offset"`
			Provided int64  `json:"provided-offset"`
		}
		if bad.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(bad.Body), &p) != nil ||
			p.Type != "https://iana.org/assignments/http-problem-types#mismatching-upload-offset" || p.Expected != piece || p.Provided != piece+1 {
			t.Errorf("409 body %s (%s), want the mismatching-upload-offset problem with %d and %d", bad.Body, bad.Header.Get("Content-Type"), piece, piece+1)
		}
		if c, _ := d.complete(bad.Header); c {
			t.Errorf("409 says complete")
		}
	}

	if d.v >= 6 {
		// From interop 6 an append must be labelled application/partial-upload.
		h := http.Header{"Content-Type": {"application/offset+octet-stream"}, "Upload-Offset": {strconv.FormatInt(piece, 10)}}
		d.setComplete(h, false)
		r, err := d.do(t.Context(), http.MethodPatch, u, h, bytes.NewReader([]byte("x")), 1, nil)
		if err != nil || r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("unlabelled append: %v %d, want 415", err, r.Status)
		}
	}
	r = d.appendData(t, u, piece, src.readRange(t, piece, piece), false)
	if r.Status/100 != 2 {
		t.Fatalf("PATCH 2: %d %s", r.Status, r.Body)
	}
	checkDraftResponse(t, d, "PATCH 2", r, false)
	off, _ := d.offset(t, u)
	if off != 2*piece {
		t.Fatalf("HEAD after two pieces: offset %d, want %d", off, 2*piece)
	}
	if d.v >= 7 {
		// Completing with fewer bytes than the announced length contradicts it.
		short := d.appendData(t, u, off, src.readRange(t, off, 10), true)
		if short.Status != http.StatusBadRequest || !strings.Contains(short.Body, "#inconsistent-upload-length") {
			t.Errorf("short completing append: %d %s, want 400 inconsistent-upload-length", short.Status, short.Body)
		}
		if o, _ := d.offset(t, u); o != off {
			t.Errorf("offset after the refused append = %d, want %d", o, off)
		}
	}
	r = d.appendData(t, u, off, src.readRange(t, off, src.Size-off), true)
	if r.Status/100 != 2 {
		t.Fatalf("PATCH 3: %d %s", r.Status, r.Body)
	}
	checkDraftResponse(t, d, "last PATCH", r, true)
	s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)

	_, h := d.offset(t, u)
	checkDraftResponse(t, d, "HEAD of the finished upload", h, true)
	if d.v >= 6 {
		done := d.appendData(t, u, 0, []byte("x"), true)
		if done.Status != http.StatusBadRequest || !strings.Contains(done.Body, "#completed-upload") {
			t.Errorf("append to the finished upload: %d %s, want 400 completed-upload", done.Status, done.Body)
		}
	}
}

// TestDraftOptionsAndCancel checks discovery (OPTIONS announces the
// limits) and cancellation (DELETE ends the upload resource).
func TestDraftOptionsAndCancel(t *testing.T) {
	s := newStack(t, stackOptions{Env: draftEnv})
	d := newDraftClient(8)
	r, err := d.do(t.Context(), http.MethodOptions, s.GW.Endpoint(), http.Header{}, nil, 0, nil)
	if err != nil || r.Status/100 != 2 {
		t.Fatalf("OPTIONS: %v %d", err, r.Status)
	}
	lim := limitKeys(t, r.Header.Get("Upload-Limit"))
	for _, k := range []string{"max-size", "max-append-size", "max-age"} {
		if lim[k] <= 0 {
			t.Errorf("OPTIONS Upload-Limit %v: want %s > 0", lim, k)
		}
	}
	if _, ok := lim["min-size"]; !ok {
		t.Errorf("OPTIONS Upload-Limit %v: no min-size", lim)
	}
	if r.Header.Get("Accept-Patch") != "application/partial-upload" {
		t.Errorf("OPTIONS Accept-Patch = %q", r.Header.Get("Accept-Patch"))
	}

	src := makeSource(t, 300*KiB, 77)
	c := d.create(t, s.GW.Endpoint(), "cancel.mp4", src.readRange(t, 0, 200*KiB), false, src.Size)
	if c.Status != http.StatusCreated {
		t.Fatalf("POST: %d %s", c.Status, c.Body)
	}
	u := absURL(t, s.GW.Endpoint(), c.Header.Get("Location"))
	del, err := d.do(t.Context(), http.MethodDelete, u, http.Header{}, nil, 0, nil)
	if err != nil || del.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %v %d %s", err, del.Status, del.Body)
	}
	h, err := d.do(t.Context(), http.MethodHead, u, http.Header{}, nil, 0, nil)
	if err != nil || h.Status != http.StatusNotFound {
		t.Errorf("HEAD after DELETE: %v %d, want 404", err, h.Status)
	}
	if n := metric(t, s.GW, "vodgate_resumable_requests_total"); n != 4 {
		t.Errorf("vodgate_resumable_requests_total = %v, want 4 (OPTIONS, POST, DELETE, HEAD)", n)
	}
}

// TestDraftResumeOnOtherInstance creates an upload on one gateway, cuts
// it mid-body, and resumes it from HEAD on another.
func TestDraftResumeOnOtherInstance(t *testing.T) {
	s, a, b := newInstances(t, "1MiB", stackOptions{})
	for _, v := range []int{3, 6, 8} {
		t.Run("interop"+strconv.Itoa(v), func(t *testing.T) { draftInterrupted(t, s, newDraftClient(v), a, b) })
	}
}

// TestDraftOverEachProtocol uploads with interop 8 over HTTP/1.1, HTTP/2
// and HTTP/3 (URLSession speaks all three): the 104 must cross each, and
// an upload cut mid-body resumes.
func TestDraftOverEachProtocol(t *testing.T) {
	s := newEdgeStack(t, draftEnv)
	roots := certPool(t, s.Cert.CertFile)
	for _, proto := range []string{"h1", "h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			d := newDraftClient(8)
			d.c = protoClient(t, proto, roots)
			draftOneRequest(t, s.stack, d)
			draftInterrupted(t, s.stack, d, s.GW, s.GW)
		})
	}
}

// TestDraftResumesTusUpload starts an upload with tus and finishes it with
// the draft (interop 8): both protocols name the same upload resource.
func TestDraftResumesTusUpload(t *testing.T) {
	s := newStack(t, stackOptions{Env: draftEnv})
	src := makeSource(t, 2*MiB+4321, 88)
	u, _ := createUpload(t, s.GW.Endpoint(), src.Size, map[string]string{"filename": "mixed.mp4"})
	if r := patchUpload(t, u, 0, src.readRange(t, 0, MiB+5)); r.Status != http.StatusNoContent {
		t.Fatalf("tus PATCH: %d %s", r.Status, r.Body)
	}
	d := newDraftClient(8)
	off, h := d.offset(t, u)
	if off != MiB+5 || h.Header.Get("Upload-Length") != strconv.FormatInt(src.Size, 10) {
		t.Fatalf("draft HEAD of a tus upload: offset %d, Upload-Length %q", off, h.Header.Get("Upload-Length"))
	}
	checkDraftResponse(t, d, "HEAD", h, false)
	r := d.appendData(t, u, off, src.readRange(t, off, src.Size-off), true)
	if r.Status/100 != 2 {
		t.Fatalf("draft PATCH: %d %s", r.Status, r.Body)
	}
	checkDraftResponse(t, d, "PATCH", r, true)
	s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)
}

// TestDraftTusJSClient uploads with tus-js-client's experimental IETF
// draft protocols (interop 5 and 6), in chunks, pausing between two of
// them as an interrupted client would.
func TestDraftTusJSClient(t *testing.T) {
	s := newStack(t, stackOptions{Env: draftEnv})
	for i, proto := range []string{"ietf-draft-03", "ietf-draft-05"} {
		t.Run(proto, func(t *testing.T) {
			before := metric(t, s.GW, "vodgate_resumable_requests_total")
			src := makeSource(t, 3*MiB+1234, uint64(4000+i))
			run := startTus(t, tusOptions{
				Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB, Protocol: proto,
				Metadata: map[string]string{"filename": "tusjs-" + proto + ".mp4"}, PauseBeforePatch: []int{2},
			})
			run.mustEvent("paused", time.Minute)
			run.resume()
			res := run.wait(2 * time.Minute)
			requireOK(t, res)
			s.checkUploaded(t, res.FinalMediaID, src)
			// POST and four PATCHes, all in the draft.
			if n := metric(t, s.GW, "vodgate_resumable_requests_total") - before; n < 5 {
				t.Errorf("%v draft requests counted, want at least 5", n)
			}
		})
	}
}

// TestDraftDisabled: with resumable-uploads false a draft creation is a
// tus request without Tus-Resumable (412), and no 104 is sent.
func TestDraftDisabled(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_RESUMABLE_UPLOADS": "false"}})
	for _, v := range []int{3, 6, 8} {
		d := newDraftClient(v)
		r := d.create(t, s.GW.Endpoint(), "off.mp4", []byte("abc"), true, 3)
		if r.Status != http.StatusPreconditionFailed || len(r.Interim) != 0 {
			t.Errorf("interop %d with the draft off: %d and %d interim responses, want 412 and none", v, r.Status, len(r.Interim))
		}
	}
}
