package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if r.Header.Get("X-Amz-Copy-Source") != "" || r.Header.Get("X-Oss-Copy-Source") != "" {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "copy is not supported")
		return
	}
	var f *os.File
	if s.cfg.Dir != "" {
		p := s.objectPath(bucket, key)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		var err error
		if f, err = os.Create(p); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		defer f.Close()
	}
	h := s.newHash()
	obj := &object{modified: time.Now(), contentType: r.Header.Get("Content-Type"), checksums: checksumHeaders(r.Header)}
	var err error
	if s.keeps(key, r.ContentLength) {
		// Small, and read back (by tusd): keep the bytes.
		var buf bytes.Buffer
		buf.Grow(int(r.ContentLength))
		obj.size, err = buf.ReadFrom(io.LimitReader(r.Body, s.cfg.Keep+1))
		if err == nil && obj.size <= s.cfg.Keep {
			obj.data, obj.kept = buf.Bytes(), true
			if h != nil {
				h.Write(obj.data)
			}
			if f != nil {
				_, err = f.Write(obj.data)
			}
		} else if err == nil {
			err = io.ErrUnexpectedEOF
		}
	} else {
		obj.size, err = s.consume(r.Body, h, f)
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if r.ContentLength >= 0 && obj.size != r.ContentLength {
		s.fail(w, r, http.StatusBadRequest, "IncompleteBody", "short body")
		return
	}
	if obj.contentType == "" {
		obj.contentType = "application/octet-stream"
	}
	obj.etag = s.etag(h)
	s.mu.Lock()
	s.objects[bucket+"/"+key] = obj
	s.mu.Unlock()
	s.stats.Puts.Add(1)
	w.Header().Set("ETag", obj.etag)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.Lock()
	obj, ok := s.objects[bucket+"/"+key]
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusNotFound, "NoSuchKey", "no object "+key)
		return
	}
	h := w.Header()
	h.Set("ETag", obj.etag)
	h.Set("Last-Modified", obj.modified.UTC().Format(http.TimeFormat))
	h.Set("Content-Type", obj.contentType)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(obj.size, 10))
	if r.Header.Get("X-Amz-Checksum-Mode") == "ENABLED" {
		for k, v := range obj.checksums {
			h.Set(k, v)
		}
	}
	if r.Method == http.MethodHead {
		s.stats.Heads.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	s.stats.Gets.Add(1)
	if obj.kept {
		w.WriteHeader(http.StatusOK)
		w.Write(obj.data)
		return
	}
	if s.cfg.Dir != "" {
		f, err := os.Open(s.objectPath(bucket, key))
		if err == nil {
			defer f.Close()
			w.WriteHeader(http.StatusOK)
			io.Copy(w, f)
			return
		}
	}
	h.Del("Content-Length")
	s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "the sink discarded the bytes of "+key)
}

func (s *Server) deleteObject(w http.ResponseWriter, bucket, key string) {
	s.mu.Lock()
	delete(s.objects, bucket+"/"+key)
	s.mu.Unlock()
	if s.cfg.Dir != "" {
		os.Remove(s.objectPath(bucket, key))
	}
	s.stats.Deletes.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

type deleteRequest struct {
	Objects []struct {
		Key string `xml:"Key"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name `xml:"DeleteResult"`
	Deleted []struct {
		Key string `xml:"Key"`
	} `xml:"Deleted"`
}

func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	var req deleteRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		s.fail(w, r, http.StatusBadRequest, "MalformedXML", err.Error())
		return
	}
	var res deleteResult
	s.mu.Lock()
	for _, o := range req.Objects {
		delete(s.objects, bucket+"/"+o.Key)
		res.Deleted = append(res.Deleted, struct {
			Key string `xml:"Key"`
		}{o.Key})
	}
	s.mu.Unlock()
	if s.cfg.Dir != "" {
		for _, o := range req.Objects {
			os.Remove(s.objectPath(bucket, o.Key))
		}
	}
	s.stats.Deletes.Add(int64(len(req.Objects)))
	writeXML(w, http.StatusOK, res)
}

// checksumHeaders returns the x-amz-checksum-* headers of a put, which S3
// stores and returns on GET and HEAD with x-amz-checksum-mode: ENABLED
// (the AWS SDK then validates the body).
func checksumHeaders(h http.Header) map[string]string {
	var m map[string]string
	for k, v := range h {
		if strings.HasPrefix(k, "X-Amz-Checksum-") && k != "X-Amz-Checksum-Mode" && k != "X-Amz-Checksum-Algorithm" && len(v) > 0 {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v[0]
		}
	}
	return m
}
