package vodtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// serveSim serves the inspection and fault API (JSON, unauthenticated):
//
//	GET  /_sim/media            every Media
//	GET  /_sim/media/<id>       one Media (404 if unknown)
//	GET  /_sim/calls            every Call
//	POST /_sim/fail             {"action","n","status","code"} → FailNext
//	POST /_sim/expire           ExpireAll
//	POST /_sim/latency          {"ms"} → SetLatency
//	POST /_sim/status           {"id","status"} → SetStatus
//	POST /_sim/sweep            SweepLeftoverParts → {"aborted": n}
//	GET  /_sim/callbacks, GET/POST /_sim/callback-faults  (see serveCallbackSim)
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, "/_sim/")
	if s.serveCallbackSim(w, r, route) {
		return
	}
	switch {
	case r.Method == http.MethodGet && route == "media":
		simJSON(w, http.StatusOK, s.AllMedia())
	case r.Method == http.MethodGet && strings.HasPrefix(route, "media/"):
		m, ok := s.Media(strings.TrimPrefix(route, "media/"))
		if !ok {
			simJSON(w, http.StatusNotFound, map[string]string{"error": "no such media"})
			return
		}
		simJSON(w, http.StatusOK, m)
	case r.Method == http.MethodGet && route == "calls":
		simJSON(w, http.StatusOK, s.Calls())
	case r.Method == http.MethodPost && route == "fail":
		var in struct {
			Action string `json:"action"`
			N      int    `json:"n"`
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if !decodeSim(w, r, &in) {
			return
		}
		if in.Action == "" || in.Status < 400 || in.Status > 599 || in.Code == "" {
			simJSON(w, http.StatusBadRequest, map[string]string{"error": "action, status (4xx/5xx) and code are required"})
			return
		}
		s.FailNext(in.Action, in.N, in.Status, in.Code)
		simJSON(w, http.StatusOK, map[string]string{})
	case r.Method == http.MethodPost && route == "expire":
		s.ExpireAll()
		simJSON(w, http.StatusOK, map[string]string{})
	case r.Method == http.MethodPost && route == "latency":
		var in struct {
			MS int64 `json:"ms"`
		}
		if !decodeSim(w, r, &in) {
			return
		}
		s.SetLatency(time.Duration(in.MS) * time.Millisecond)
		simJSON(w, http.StatusOK, map[string]string{})
	case r.Method == http.MethodPost && route == "status":
		var in struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if !decodeSim(w, r, &in) {
			return
		}
		if err := s.SetStatus(in.ID, in.Status); err != nil {
			simJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		simJSON(w, http.StatusOK, map[string]string{})
	case r.Method == http.MethodPost && route == "sweep":
		simJSON(w, http.StatusOK, map[string]int{"aborted": s.SweepLeftoverParts()})
	default:
		simJSON(w, http.StatusNotFound, map[string]string{"error": "unknown simulator route"})
	}
}

func decodeSim(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(v); err != nil {
		simJSON(w, http.StatusBadRequest, map[string]string{"error": "vodtest: decode request: " + err.Error()})
		return false
	}
	return true
}

func simJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
