package osstest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// simPrefix is the path of the inspection API. "_sim" is not a valid bucket
// name, so it cannot clash with OSS requests.
const simPrefix = "/_sim/"

// serveSim serves the JSON inspection and fault API:
//
//	GET  /_sim/objects                       []Object
//	GET  /_sim/objects/<bucket>/<key>        Object (404 if missing); ?data=1 returns the raw bytes
//	GET  /_sim/uploads                       []Upload
//	GET  /_sim/calls                         []Call
//	POST /_sim/fail      {"op","n","status","code"}
//	POST /_sim/reset     {"op","n","afterBytes"}
//	POST /_sim/lose      {"op","n"}
//	POST /_sim/crc       {"op","n"}            (CorruptNextCRC)
//	POST /_sim/expire
//	POST /_sim/latency   {"ms"}
//	POST /_sim/bandwidth {"bytesPerSec"}
//
// POSTs answer 204; bad input answers 400 with {"error": "..."}.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, simPrefix)
	switch {
	case r.Method == http.MethodGet && path == "objects":
		writeJSON(w, http.StatusOK, s.Objects())
	case r.Method == http.MethodGet && strings.HasPrefix(path, "objects/"):
		s.simObject(w, r, strings.TrimPrefix(path, "objects/"))
	case r.Method == http.MethodGet && path == "uploads":
		writeJSON(w, http.StatusOK, s.Uploads())
	case r.Method == http.MethodGet && path == "calls":
		writeJSON(w, http.StatusOK, s.Calls())
	case r.Method == http.MethodPost:
		s.simPost(w, r, path)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "osstest: no such endpoint " + r.Method + " " + r.URL.Path})
	}
}

func (s *Server) simObject(w http.ResponseWriter, r *http.Request, rest string) {
	bucket, key := splitPath("/" + rest)
	o, ok := s.Object(bucket, key)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "osstest: no such object " + bucket + "/" + key})
		return
	}
	if r.URL.Query().Get("data") != "1" {
		writeJSON(w, http.StatusOK, o)
		return
	}
	data, err := s.ReadObject(bucket, key)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// simRequest is the union of the POST bodies.
type simRequest struct {
	Op          Op     `json:"op"`
	N           int    `json:"n"`
	Status      int    `json:"status"`
	Code        string `json:"code"`
	AfterBytes  int64  `json:"afterBytes"`
	MS          int64  `json:"ms"`
	BytesPerSec int64  `json:"bytesPerSec"`
}

func (s *Server) simPost(w http.ResponseWriter, r *http.Request, path string) {
	var req simRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &req)
	}
	if err == nil {
		err = s.applySim(path, req)
	}
	if errors.Is(err, errSimNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "osstest: " + path + ": " + err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var errSimNotFound = errors.New("osstest: no such endpoint")

func (s *Server) applySim(path string, req simRequest) error {
	needOp := func() error {
		switch req.Op {
		case OpInitiate, OpUploadPart, OpListParts, OpComplete, OpAbort, OpPut, OpGet, OpHead, OpDelete:
			return nil
		}
		return errors.New("unknown op " + strconv.Quote(string(req.Op)))
	}
	switch path {
	case "fail":
		if err := needOp(); err != nil {
			return err
		}
		s.FailNext(req.Op, req.N, req.Status, req.Code)
	case "reset":
		if err := needOp(); err != nil {
			return err
		}
		s.ResetNext(req.Op, req.N, req.AfterBytes)
	case "lose":
		if err := needOp(); err != nil {
			return err
		}
		s.LoseNextResponse(req.Op, req.N)
	case "crc":
		if err := needOp(); err != nil {
			return err
		}
		s.CorruptNextCRC(req.Op, req.N)
	case "expire":
		s.ExpireAll()
	case "latency":
		s.SetLatency(time.Duration(req.MS) * time.Millisecond)
	case "bandwidth":
		s.SetBandwidth(req.BytesPerSec)
	default:
		return errSimNotFound
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"osstest: encode json"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
