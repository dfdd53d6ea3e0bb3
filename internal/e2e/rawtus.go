package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawHTTP is a plain net/http client for tus requests written by hand.
var rawHTTP = &http.Client{Timeout: 60 * time.Second}

// rawResp is a response with its body read.
type rawResp struct {
	Status int
	Header http.Header
	Body   string
}

// tusDo sends one request. hdr values are set as given; a key mapped to ""
// is left out (so a test can drop Tus-Resumable). Tus-Resumable: 1.0.0 is
// added unless hdr mentions it.
func tusDo(t testing.TB, method, target string, hdr map[string]string, body []byte) rawResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := hdr["Tus-Resumable"]; !ok {
		req.Header.Set("Tus-Resumable", "1.0.0")
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return rawResp{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// createUpload POSTs a new upload of length bytes and returns its absolute URL.
func createUpload(t testing.TB, endpoint string, length int64, meta map[string]string) (string, rawResp) {
	t.Helper()
	r := tusDo(t, http.MethodPost, endpoint, map[string]string{
		"Upload-Length":   strconv.FormatInt(length, 10),
		"Upload-Metadata": encodeMetadata(meta),
	}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", endpoint, r.Status, r.Body)
	}
	return absURL(t, endpoint, r.Header.Get("Location")), r
}

// patchUpload sends one PATCH with data at off.
func patchUpload(t testing.TB, uploadURL string, off int64, data []byte) rawResp {
	t.Helper()
	return tusDo(t, http.MethodPatch, uploadURL, map[string]string{
		"Content-Type":  "application/offset+octet-stream",
		"Upload-Offset": strconv.FormatInt(off, 10),
	}, data)
}

// headState is what HEAD says about an upload.
type headState struct {
	Status    int
	Offset    string
	Length    string
	Defer     string
	MediaID   string
	MediaType string
}

func headUpload(t testing.TB, uploadURL string) headState {
	t.Helper()
	r := tusDo(t, http.MethodHead, uploadURL, nil, nil)
	return headState{
		Status:    r.Status,
		Offset:    r.Header.Get("Upload-Offset"),
		Length:    r.Header.Get("Upload-Length"),
		Defer:     r.Header.Get("Upload-Defer-Length"),
		MediaID:   r.Header.Get("Vod-Media-Id"),
		MediaType: r.Header.Get("Vod-Media-Type"),
	}
}

// headOffset HEADs the upload and returns Upload-Offset, failing unless 200.
func headOffset(t testing.TB, uploadURL string) int64 {
	t.Helper()
	h := headUpload(t, uploadURL)
	if h.Status != http.StatusOK {
		t.Fatalf("HEAD %s: %d", uploadURL, h.Status)
	}
	n, err := strconv.ParseInt(h.Offset, 10, 64)
	if err != nil {
		t.Fatalf("HEAD %s: Upload-Offset %q: %v", uploadURL, h.Offset, err)
	}
	return n
}

// encodeMetadata builds an Upload-Metadata header (sorted keys).
func encodeMetadata(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(meta[k])))
	}
	return strings.Join(parts, ",")
}

func absURL(t testing.TB, base, loc string) string {
	t.Helper()
	if loc == "" {
		t.Fatalf("no Location header")
	}
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u, err := b.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
