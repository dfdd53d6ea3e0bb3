package osstest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

type initiateResult struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket       string   `xml:"Bucket"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
}

type listPartsResult struct {
	XMLName              xml.Name     `xml:"ListPartsResult"`
	Bucket               string       `xml:"Bucket"`
	EncodingType         string       `xml:"EncodingType,omitempty"`
	Key                  string       `xml:"Key"`
	UploadID             string       `xml:"UploadId"`
	StorageClass         string       `xml:"StorageClass"`
	PartNumberMarker     int          `xml:"PartNumberMarker"`
	NextPartNumberMarker int          `xml:"NextPartNumberMarker"`
	MaxParts             int          `xml:"MaxParts"`
	IsTruncated          bool         `xml:"IsTruncated"`
	Parts                []listedPart `xml:"Part"`
}

type listedPart struct {
	PartNumber    int    `xml:"PartNumber"`
	LastModified  string `xml:"LastModified"`
	ETag          string `xml:"ETag"`
	HashCrc64ecma uint64 `xml:"HashCrc64ecma"`
	Size          int64  `xml:"Size"`
}

// maxListParts is the OSS cap on max-parts (and its default).
const maxListParts = 1000

// encodeKey applies encoding-type=url: percent-encoding that the SDK's
// url.QueryUnescape reverses ('/' kept, '+' and space encoded).
func encodeKey(key string, q map[string][]string) (string, string) {
	if v := q["encoding-type"]; len(v) > 0 && v[0] == "url" {
		return uriEscape(key, true), "url"
	}
	return key, ""
}

func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func (s *Server) initiate(rq *request) {
	u := &upload{
		id: newUploadID(), bucket: rq.bucket, key: rq.key, initiated: s.now(),
		contentType: rq.r.Header.Get("Content-Type"), meta: userMeta(rq.r.Header), parts: map[int]*part{},
	}
	s.mu.Lock()
	s.uploads[u.id] = u
	s.mu.Unlock()
	key, enc := encodeKey(rq.key, rq.q)
	rq.sendXML(http.StatusOK, initiateResult{Bucket: rq.bucket, Key: key, UploadID: u.id, EncodingType: enc})
}

// lookupUpload returns the open upload id of bucket/key, or NoSuchUpload.
// Call with s.mu held.
func (s *Server) lookupUpload(id, bucket, key string) (*upload, *ossError) {
	u := s.uploads[id]
	if u == nil || u.bucket != bucket || u.key != key {
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

func (s *Server) uploadPart(rq *request) {
	r := rq.r
	id := rq.q.Get("uploadId")
	pn := rq.q.Get("partNumber")
	n, err := strconv.Atoi(pn)
	if err != nil || n < 1 || n > 10000 {
		rq.fail(errPartNumber(pn))
		return
	}
	if r.Header.Get("X-Oss-Copy-Source") != "" {
		rq.fail(errNotImplemented())
		return
	}
	s.mu.Lock()
	_, e := s.lookupUpload(id, rq.bucket, rq.key)
	s.mu.Unlock()
	if e != nil {
		rq.fail(e)
		return
	}
	if r.ContentLength > maxPartSize {
		rq.fail(newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", ""))
		return
	}
	rc, e := rq.receive(false)
	if e != nil {
		rq.fail(e)
		return
	}
	if !s.held(r.Context(), n) {
		rc.blob.remove()
		return
	}
	p := &part{number: n, size: rc.blob.size, md5: rc.md5, crc: rc.crc, modified: s.now(), blob: rc.blob}
	s.mu.Lock()
	u, e := s.lookupUpload(id, rq.bucket, rq.key)
	var old *part
	if e == nil {
		old = u.parts[n]
		u.parts[n] = p
	}
	s.mu.Unlock()
	if e != nil {
		rc.blob.remove()
		rq.fail(e)
		return
	}
	if old != nil {
		old.blob.remove()
	}
	h := rq.w.Header()
	h.Set("ETag", p.etag())
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(p.md5[:]))
	rq.setCRC(p.crc)
	h.Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
}

// receive reads the request body into a blob and checks Content-MD5.
func (rq *request) receive(withSHA bool) (*received, *ossError) {
	rc, err := rq.s.receiveBody(rq.ctx(), rq.r.Body, rq.r.ContentLength, withSHA, rq.bps)
	if rc != nil {
		rq.bytes = rc.blob.size
	}
	if err != nil {
		if errors.Is(err, errIncompleteBody) {
			return nil, newErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", "")
		}
		return nil, errInternal(err.Error())
	}
	if want := rq.r.Header.Get("Content-MD5"); want != "" {
		sum, derr := base64.StdEncoding.DecodeString(want)
		if derr != nil || !bytes.Equal(sum, rc.md5[:]) {
			rc.blob.remove()
			return nil, newErr(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", "").
				with("CalculatedDigest", base64.StdEncoding.EncodeToString(rc.md5[:])).
				with("ExpectedDigest", want)
		}
	}
	return rc, nil
}

func (s *Server) listParts(rq *request) {
	id := rq.q.Get("uploadId")
	maxParts := maxListParts
	if v, ok := rq.q["max-parts"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			rq.fail(errInvalidArgument("Argument max-parts is invalid.", "max-parts", v[0]))
			return
		}
		maxParts = min(n, maxListParts)
	}
	marker := 0
	if v, ok := rq.q["part-number-marker"]; ok && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			rq.fail(errInvalidArgument("Argument part-number-marker is invalid.", "part-number-marker", v[0]))
			return
		}
		marker = n
	}
	key, enc := encodeKey(rq.key, rq.q)
	res := listPartsResult{Bucket: rq.bucket, Key: key, EncodingType: enc, UploadID: id,
		StorageClass: "Standard", PartNumberMarker: marker, NextPartNumberMarker: marker, MaxParts: maxParts}

	s.mu.Lock()
	u, e := s.lookupUpload(id, rq.bucket, rq.key)
	if e == nil {
		nums := make([]int, 0, len(u.parts))
		for n := range u.parts {
			if n > marker {
				nums = append(nums, n)
			}
		}
		slices.Sort(nums)
		if len(nums) > maxParts {
			nums, res.IsTruncated = nums[:maxParts], true
		}
		for _, n := range nums {
			p := u.parts[n]
			res.Parts = append(res.Parts, listedPart{PartNumber: n, LastModified: isoTime(p.modified),
				ETag: p.etag(), HashCrc64ecma: p.crc, Size: p.size})
			res.NextPartNumberMarker = n
		}
	}
	s.mu.Unlock()
	if e != nil {
		rq.fail(e)
		return
	}
	rq.sendXML(http.StatusOK, res)
}

func (s *Server) abort(rq *request) {
	id := rq.q.Get("uploadId")
	s.mu.Lock()
	u, e := s.lookupUpload(id, rq.bucket, rq.key)
	if e == nil {
		delete(s.uploads, id)
	}
	s.mu.Unlock()
	if e != nil {
		rq.fail(e)
		return
	}
	for _, p := range u.parts {
		p.blob.remove()
	}
	rq.w.WriteHeader(http.StatusNoContent)
}
