package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestBadInput sends malformed tus requests with net/http. Each must get the
// exact tus status with a message, and leave the upload under test (and the
// VOD simulator) unchanged; the upload then completes correctly.
func TestBadInput(t *testing.T) {
	s := newStack(t, stackOptions{})
	const total = 300 * KiB
	const first = 150 * KiB
	src := makeSource(t, total, 7)
	uploadURL, _ := createUpload(t, s.GW.Endpoint(), total, map[string]string{"filename": "bad.mp4"})
	if r := patchUpload(t, uploadURL, 0, src.readRange(t, 0, first)); r.Status != http.StatusNoContent {
		t.Fatalf("first PATCH: %d %s", r.Status, r.Body)
	}
	before := headUpload(t, uploadURL)
	if before.Status != http.StatusOK || before.Offset != itoa(first) || before.MediaID == "" {
		t.Fatalf("HEAD before: %+v, want 200 at offset %d with a media ID", before, first)
	}

	maxSize := tusMaxSize(t, s.GW.Endpoint())
	video := map[string]string{"filename": "ok.mp4"}
	rest := src.readRange(t, first, total-first)
	octet := "application/offset+octet-stream"
	off := strconv.Itoa(first)

	tests := []struct {
		name     string
		method   string
		target   string // "" = the upload under test; "endpoint" = the creation endpoint
		hdr      map[string]string
		body     []byte
		want     int
		wantBody string // substring of the response body (case-insensitive)
	}{
		{name: "PATCH without Tus-Resumable", method: http.MethodPatch,
			hdr: map[string]string{"Tus-Resumable": "", "Content-Type": octet, "Upload-Offset": off}, body: rest[:10], want: 412},
		{name: "POST with unsupported Tus-Resumable", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Tus-Resumable": "0.2.2", "Upload-Length": "10", "Upload-Metadata": encodeMetadata(video)}, want: 412},
		{name: "PATCH with wrong Content-Type", method: http.MethodPatch,
			hdr: map[string]string{"Content-Type": "application/octet-stream", "Upload-Offset": off}, body: rest[:10], want: 415},
		{name: "PATCH without Content-Type", method: http.MethodPatch,
			hdr: map[string]string{"Upload-Offset": off}, body: rest[:10], want: 415},
		{name: "PATCH with offset mismatch (behind)", method: http.MethodPatch,
			hdr: map[string]string{"Content-Type": octet, "Upload-Offset": "0"}, body: rest[:10], want: 409},
		{name: "PATCH with offset mismatch (ahead)", method: http.MethodPatch,
			hdr: map[string]string{"Content-Type": octet, "Upload-Offset": strconv.Itoa(first + 1)}, body: rest[:10], want: 409},
		{name: "PATCH past Upload-Length", method: http.MethodPatch,
			hdr: map[string]string{"Content-Type": octet, "Upload-Offset": off}, body: append(append([]byte{}, rest...), 1, 2, 3), want: 413},
		{name: "HEAD of unknown upload", method: http.MethodHead, target: s.GW.Endpoint() + "nosuchupload0123456789", want: 404},
		{name: "PATCH of unknown upload", method: http.MethodPatch, target: s.GW.Endpoint() + "nosuchupload0123456789",
			hdr: map[string]string{"Content-Type": octet, "Upload-Offset": "0"}, body: rest[:10], want: 404},
		{name: "POST with invalid metadata encoding", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Upload-Length": "10", "Upload-Metadata": "filename !!not-base64!!"}, want: 400},
		{name: "POST with metadata pair of three fields", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Upload-Length": "10", "Upload-Metadata": encodeMetadata(video) + ",title dGl0bGU= extra"}, want: 400},
		{name: "POST with unsupported filename extension", method: http.MethodPost, target: "endpoint",
			hdr:  map[string]string{"Upload-Length": "10", "Upload-Metadata": encodeMetadata(map[string]string{"filename": "setup.exe"})},
			want: 400, wantBody: "mp4"},
		{name: "POST with Upload-Length over the maximum", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Upload-Length": strconv.FormatInt(maxSize+1, 10), "Upload-Metadata": encodeMetadata(video)}, want: 413},
		{name: "POST with negative Upload-Length", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Upload-Length": "-1", "Upload-Metadata": encodeMetadata(video)}, want: 400},
		{name: "POST with non-numeric Upload-Length", method: http.MethodPost, target: "endpoint",
			hdr: map[string]string{"Upload-Length": "12abc", "Upload-Metadata": encodeMetadata(video)}, want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			switch target {
			case "":
				target = uploadURL
			case "endpoint":
				target = s.GW.Endpoint()
			}
			mediaBefore := len(s.VOD.AllMedia())
			r := tusDo(t, tc.method, target, tc.hdr, tc.body)
			if r.Status != tc.want {
				t.Errorf("%s: status %d, want %d (body %q)", tc.method, r.Status, tc.want, r.Body)
			}
			if tc.method != http.MethodHead && strings.TrimSpace(r.Body) == "" {
				t.Errorf("%s: empty body, want a message", tc.method)
			}
			if tc.wantBody != "" && !strings.Contains(strings.ToLower(r.Body), tc.wantBody) {
				t.Errorf("%s: body %q does not mention %q", tc.method, r.Body, tc.wantBody)
			}
			if loc := r.Header.Get("Location"); tc.method == http.MethodPost && loc != "" {
				t.Errorf("rejected POST still created an upload at %s", loc)
			}
			if n := len(s.VOD.AllMedia()); n != mediaBefore {
				t.Errorf("VOD media count went from %d to %d: a rejected request created media", mediaBefore, n)
			}
			if after := headUpload(t, uploadURL); after != before {
				t.Errorf("upload changed:\n before %+v\n after  %+v", before, after)
			}
		})
	}

	// The upload is intact: finish it and check the object.
	r := patchUpload(t, uploadURL, first, rest)
	if r.Status != http.StatusNoContent {
		t.Fatalf("final PATCH: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Vod-Media-Id"); got != before.MediaID {
		t.Errorf("final PATCH Vod-Media-Id %q, HEAD said %q", got, before.MediaID)
	}
	s.checkUploaded(t, before.MediaID, src)
}

// tusMaxSize returns the Tus-Max-Size the gateway advertises on OPTIONS.
func tusMaxSize(t *testing.T, endpoint string) int64 {
	t.Helper()
	r := tusDo(t, http.MethodOptions, endpoint, nil, nil)
	v := r.Header.Get("Tus-Max-Size")
	if v == "" {
		t.Fatalf("OPTIONS %s: no Tus-Max-Size header (status %d); the gateway must advertise its maximum", endpoint, r.Status)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("OPTIONS: Tus-Max-Size %q is not a positive integer", v)
	}
	return n
}
