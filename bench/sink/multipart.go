package main

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// timeFormat is the ISO 8601 form S3 and OSS use in XML bodies.
const timeFormat = "2006-01-02T15:04:05.000Z"

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	StorageClass         string     `xml:"StorageClass"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []partElem `xml:"Part"`
}

type partElem struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type completeRequest struct {
	Parts []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func newUploadID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) initiate(w http.ResponseWriter, r *http.Request, bucket, key string) {
	id := newUploadID()
	s.mu.Lock()
	s.uploads[id] = &mpUpload{bucket: bucket, key: key, initiated: time.Now(), parts: map[int]partMeta{}}
	s.mu.Unlock()
	s.stats.Initiated.Add(1)
	writeXML(w, http.StatusOK, initiateResult{Bucket: bucket, Key: key, UploadID: id})
}

func (s *Server) lookup(uploadID, bucket, key string) (*mpUpload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[uploadID]
	if !ok || u.bucket != bucket || u.key != key {
		return nil, false
	}
	return u, true
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key, uploadID, num string) {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 10000 {
		s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "partNumber "+num)
		return
	}
	if _, ok := s.lookup(uploadID, bucket, key); !ok {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "no upload "+uploadID)
		return
	}
	var f *os.File
	if s.cfg.Dir != "" {
		p := s.partPath(uploadID, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		if f, err = os.Create(p); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		defer f.Close()
	}
	h := s.newHash()
	size, err := s.consume(r.Body, h, f)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if r.ContentLength >= 0 && size != r.ContentLength {
		s.fail(w, r, http.StatusBadRequest, "IncompleteBody", fmt.Sprintf("read %d of %d bytes", size, r.ContentLength))
		return
	}
	etag := s.etag(h)
	s.mu.Lock()
	u, ok := s.uploads[uploadID]
	if ok {
		u.parts[n] = partMeta{size: size, etag: etag, modified: time.Now()}
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "upload "+uploadID+" ended during the part")
		return
	}
	s.stats.Parts.Add(1)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, bucket, key, uploadID string) {
	q := r.URL.Query()
	maxParts := 1000
	if v := q.Get("max-parts"); v != "" {
		if m, err := strconv.Atoi(v); err == nil && m >= 0 && m < maxParts {
			maxParts = m
		}
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	res := listPartsResult{Bucket: bucket, Key: key, UploadID: uploadID, StorageClass: "STANDARD",
		PartNumberMarker: marker, MaxParts: maxParts}
	s.mu.Lock()
	u, ok := s.uploads[uploadID]
	if ok && u.bucket == bucket && u.key == key {
		nums := make([]int, 0, len(u.parts))
		for n := range u.parts {
			if n > marker {
				nums = append(nums, n)
			}
		}
		sort.Ints(nums)
		if len(nums) > maxParts {
			nums, res.IsTruncated = nums[:maxParts], true
		}
		for _, n := range nums {
			p := u.parts[n]
			res.Parts = append(res.Parts, partElem{PartNumber: n, LastModified: p.modified.UTC().Format(timeFormat), ETag: p.etag, Size: p.size})
			res.NextPartNumberMarker = n
		}
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "no upload "+uploadID)
		return
	}
	writeXML(w, http.StatusOK, res)
}

func normETag(e string) string { return strings.ToLower(strings.Trim(e, "\" ")) }

func (s *Server) complete(w http.ResponseWriter, r *http.Request, bucket, key, uploadID string) {
	var req completeRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		s.fail(w, r, http.StatusBadRequest, "MalformedXML", err.Error())
		return
	}
	if len(req.Parts) == 0 {
		s.fail(w, r, http.StatusBadRequest, "MalformedXML", "no parts")
		return
	}
	s.mu.Lock()
	u, ok := s.uploads[uploadID]
	if !ok || u.bucket != bucket || u.key != key {
		s.mu.Unlock()
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "no upload "+uploadID)
		return
	}
	var size int64
	sums := md5.New()
	prev := 0
	for _, p := range req.Parts {
		got, ok := u.parts[p.PartNumber]
		switch {
		case p.PartNumber <= prev:
			s.mu.Unlock()
			s.fail(w, r, http.StatusBadRequest, "InvalidPartOrder", "parts must be ascending")
			return
		case !ok || normETag(got.etag) != normETag(p.ETag):
			s.mu.Unlock()
			s.fail(w, r, http.StatusBadRequest, "InvalidPart", fmt.Sprintf("part %d with ETag %s not found", p.PartNumber, p.ETag))
			return
		}
		prev = p.PartNumber
		size += got.size
		raw, _ := hex.DecodeString(normETag(got.etag))
		sums.Write(raw)
	}
	delete(s.uploads, uploadID)
	s.mu.Unlock()

	etag := fmt.Sprintf("\"%s-%d\"", hex.EncodeToString(sums.Sum(nil)), len(req.Parts))
	if s.cfg.Dir != "" {
		if err := s.concatParts(bucket, key, uploadID, req.Parts); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
	}
	s.mu.Lock()
	s.objects[bucket+"/"+key] = &object{size: size, etag: etag, modified: time.Now(), contentType: "application/octet-stream"}
	s.mu.Unlock()
	s.stats.Completed.Add(1)
	writeXML(w, http.StatusOK, completeResult{Location: "http://" + r.Host + "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: etag})
}

// concatParts writes the object file from the part files in order and
// removes the parts.
func (s *Server) concatParts(bucket, key, uploadID string, parts []struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}) error {
	dst := s.objectPath(bucket, key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	for _, p := range parts {
		in, err := os.Open(s.partPath(uploadID, p.PartNumber))
		if err != nil {
			out.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(s.cfg.Dir, "parts", uploadID))
}

func (s *Server) abort(w http.ResponseWriter, r *http.Request, uploadID string) {
	s.mu.Lock()
	_, ok := s.uploads[uploadID]
	delete(s.uploads, uploadID)
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "no upload "+uploadID)
		return
	}
	if s.cfg.Dir != "" {
		os.RemoveAll(filepath.Join(s.cfg.Dir, "parts", uploadID))
	}
	s.stats.Aborted.Add(1)
	w.WriteHeader(http.StatusNoContent)
}
