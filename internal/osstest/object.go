package osstest

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) putObject(rq *request) {
	r := rq.r
	switch {
	case r.Header.Get("X-Oss-Copy-Source") != "":
		rq.fail(errNotImplemented())
		return
	case r.ContentLength > maxPartSize:
		rq.fail(newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", ""))
		return
	case s.forbidden(rq):
		rq.fail(errFileExists())
		return
	}
	rc, e := rq.receive(true)
	if e != nil {
		rq.fail(e)
		return
	}
	ct := r.Header.Get("Content-Type")
	obj := &object{contentType: ct, meta: userMeta(r.Header), modified: s.now(), etag: quoteETag(rc.md5[:]),
		segs: []*blob{rc.blob}}
	obj.info = Object{Bucket: rq.bucket, Key: rq.key, Size: rc.blob.size, SHA256: rc.sha256, CRC64: rc.crc}
	s.storeObject(obj)
	s.notifyComplete(obj.info)
	h := rq.w.Header()
	h.Set("ETag", obj.etag)
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(rc.md5[:]))
	rq.setCRC(rc.crc)
	h.Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
}

// forbidden reports whether x-oss-forbid-overwrite: true forbids writing an existing key.
func (s *Server) forbidden(rq *request) bool {
	if !strings.EqualFold(rq.r.Header.Get("X-Oss-Forbid-Overwrite"), "true") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[objectKey{rq.bucket, rq.key}]
	return ok
}

func errFileExists() *ossError {
	return newErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.", "0016-00000502")
}

// getObject serves GET and HEAD, with a single byte range on GET/HEAD.
func (s *Server) getObject(rq *request) {
	s.mu.Lock()
	obj := s.objects[objectKey{rq.bucket, rq.key}]
	s.mu.Unlock()
	if obj == nil {
		rq.fail(errNoSuchKey(rq.key))
		return
	}
	size := obj.info.Size
	start, n, status := int64(0), size, http.StatusOK
	if rh := rq.r.Header.Get("Range"); rh != "" {
		a, b, ok := parseRange(rh)
		switch {
		case !ok: // OSS ignores a malformed Range and returns the whole object
		case a < 0: // suffix range: the last b bytes
			if b > 0 {
				start, n, status = max(size-b, 0), min(b, size), http.StatusPartialContent
			}
		case a >= size:
			rq.w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			rq.fail(newErr(416, "InvalidRange", "The requested range cannot be satisfied.", "0003-00000405").
				with("RangeRequested", rh).with("ActualObjectSize", strconv.FormatInt(size, 10)))
			return
		case b < 0 || b >= size:
			start, n, status = a, size-a, http.StatusPartialContent
		case b >= a:
			start, n, status = a, b-a+1, http.StatusPartialContent
		}
	}
	h := rq.w.Header()
	ct := obj.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", obj.etag)
	h.Set("Last-Modified", obj.modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-oss-object-type", "Normal")
	if obj.info.Parts > 0 {
		h.Set("x-oss-object-type", "Multipart")
	}
	h.Set("x-oss-storage-class", "Standard")
	rq.setCRC(obj.info.CRC64)
	for k, v := range obj.meta {
		h[k] = v
	}
	if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, size))
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	rq.w.WriteHeader(status)
	if rq.r.Method == http.MethodHead {
		return
	}
	var w io.Writer = rq.w
	if rq.bps > 0 {
		w = &throttledWriter{ctx: rq.ctx(), w: w, bps: rq.bps, start: time.Now()}
	}
	if _, err := copySegments(w, obj.segs, start, n); err != nil {
		s.log.Debug("GetObjectAborted", "bucket", rq.bucket, "key", rq.key, "err", err)
	}
}

// parseRange parses "bytes=a-b", "bytes=a-" (b = -1) and "bytes=-n" (a = -1, b = n).
// ok is false for anything else, including multiple ranges.
func parseRange(h string) (a, b int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found || first == "" && last == "" {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" {
			return -1, true
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil && v >= 0
	}
	a, okA := num(first)
	b, okB := num(last)
	if !okA || !okB || a >= 0 && b >= 0 && b < a {
		return 0, 0, false
	}
	return a, b, true
}

func (s *Server) deleteObject(rq *request) {
	k := objectKey{rq.bucket, rq.key}
	s.mu.Lock()
	obj := s.objects[k]
	delete(s.objects, k)
	s.mu.Unlock()
	if obj != nil {
		obj.removeBlobs()
	}
	rq.w.WriteHeader(http.StatusNoContent)
}
