package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// tusUpload is one upload of the discarding tus endpoint.
type tusUpload struct {
	mu     sync.Mutex
	length int64 // -1 while deferred
	offset int64
}

// serveDiscard reads and discards any request body: the ceiling for a
// plain PUT.
func (s *Server) serveDiscard(w http.ResponseWriter, r *http.Request) {
	n, err := s.consume(r.Body, nil, nil)
	s.stats.DiscardBytes.Add(n)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Received", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusNoContent)
}

// serveTus is a minimal tus 1.0.0 server (core, creation, termination)
// that discards every byte: the ceiling for a tus client.
func (s *Server) serveTus(w http.ResponseWriter, r *http.Request, id string) {
	h := w.Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodOptions {
		h.Set("Tus-Version", "1.0.0")
		h.Set("Tus-Extension", "creation,creation-defer-length,termination")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Header.Get("Tus-Resumable") != "1.0.0" {
		http.Error(w, "Tus-Resumable 1.0.0 required", http.StatusPreconditionFailed)
		return
	}
	if id == "" {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		u := &tusUpload{length: -1}
		if v := r.Header.Get("Upload-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				http.Error(w, "bad Upload-Length", http.StatusBadRequest)
				return
			}
			u.length = n
		} else if r.Header.Get("Upload-Defer-Length") != "1" {
			http.Error(w, "Upload-Length or Upload-Defer-Length required", http.StatusBadRequest)
			return
		}
		id = newUploadID()
		s.mu.Lock()
		s.tus[id] = u
		s.mu.Unlock()
		s.stats.TusCreated.Add(1)
		h.Set("Location", "http://"+r.Host+"/_tus/"+id)
		h.Set("Upload-Offset", "0")
		w.WriteHeader(http.StatusCreated)
		return
	}
	s.mu.Lock()
	u, ok := s.tus[id]
	if ok && r.Method == http.MethodDelete {
		delete(s.tus, id)
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "upload not found", http.StatusNotFound)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch r.Method {
	case http.MethodHead:
		h.Set("Upload-Offset", strconv.FormatInt(u.offset, 10))
		if u.length >= 0 {
			h.Set("Upload-Length", strconv.FormatInt(u.length, 10))
		} else {
			h.Set("Upload-Defer-Length", "1")
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if r.Header.Get("Content-Type") != "application/offset+octet-stream" {
			http.Error(w, "bad Content-Type", http.StatusUnsupportedMediaType)
			return
		}
		off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || off != u.offset {
			http.Error(w, "offset mismatch", http.StatusConflict)
			return
		}
		if v := r.Header.Get("Upload-Length"); v != "" && u.length < 0 {
			if u.length, err = strconv.ParseInt(v, 10, 64); err != nil {
				http.Error(w, "bad Upload-Length", http.StatusBadRequest)
				return
			}
		}
		if u.length >= 0 && r.ContentLength > u.length-u.offset {
			http.Error(w, "body exceeds Upload-Length", http.StatusRequestEntityTooLarge)
			return
		}
		n, err := s.consume(r.Body, nil, nil)
		u.offset += n
		s.stats.TusBytes.Add(n)
		if err != nil {
			return // the client went away; the offset keeps what arrived
		}
		if u.length >= 0 && u.offset > u.length {
			http.Error(w, "body exceeds Upload-Length", http.StatusRequestEntityTooLarge)
			return
		}
		h.Set("Upload-Offset", strconv.FormatInt(u.offset, 10))
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) serveStats(w http.ResponseWriter) {
	st := &s.stats
	s.mu.Lock()
	open, objects := len(s.uploads), len(s.objects)
	s.mu.Unlock()
	m := map[string]int64{
		"requests": st.Requests.Load(), "bytes": st.Bytes.Load(), "initiated": st.Initiated.Load(),
		"parts": st.Parts.Load(), "completed": st.Completed.Load(), "aborted": st.Aborted.Load(),
		"puts": st.Puts.Load(), "gets": st.Gets.Load(), "heads": st.Heads.Load(), "deletes": st.Deletes.Load(),
		"errors": st.Errors.Load(), "tusCreated": st.TusCreated.Load(), "tusBytes": st.TusBytes.Load(),
		"discardBytes": st.DiscardBytes.Load(), "connections": st.Conns.Load(), "openUploads": int64(open), "objects": int64(objects),
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(m)
}
