package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// vodStub answers the VOD calls the gateway makes with canned documents,
// checking nothing: the benchmark's counterpart of the sink, so that the
// gateway's backend costs the machine about as little CPU as tusd's does.
// (The full simulator, -vod sim, verifies every signature and keeps every
// media, which makes it the busiest process of a creation run on a 2-core
// machine.) UploadAddress points at the sink.
type vodStub struct {
	ossURL string
	region string
	seq    atomic.Int64
}

func (v *vodStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.Header.Get("x-acs-action")
	if action == "" {
		action = r.Form.Get("Action")
	}
	reqID := strconv.FormatInt(v.seq.Add(1), 10)
	resp := map[string]any{"RequestId": reqID}
	switch action {
	case "CreateUploadVideo":
		id := randID()
		resp["VideoId"] = id
		resp["UploadAddress"], resp["UploadAuth"] = v.issue(id, extOf(r.Form.Get("FileName")))
	case "RefreshUploadVideo":
		id := r.Form.Get("VideoId")
		resp["VideoId"] = id
		resp["UploadAddress"], resp["UploadAuth"] = v.issue(id, "mp4")
	case "CreateUploadImage":
		id := randID()
		resp["ImageId"], resp["ImageURL"] = id, v.ossURL+"/bench/image/"+id
		resp["UploadAddress"], resp["UploadAuth"] = v.issue(id, "png")
	case "CreateUploadAttachedMedia":
		id := randID()
		resp["MediaId"], resp["MediaURL"] = id, v.ossURL+"/bench/attached/"+id
		resp["UploadAddress"], resp["UploadAuth"] = v.issue(id, "bin")
	case "DeleteVideo", "DeleteImage", "DeleteAttachedMedia", "DeleteMultipartUpload":
	default:
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"RequestId": reqID, "Code": "InvalidAction.NotFound", "Message": "stub: " + action})
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", reqID)
	json.NewEncoder(w).Encode(resp)
}

// issue returns the base64 UploadAddress and UploadAuth for media id; the
// object key is derived from the id, so a refresh names the same object.
func (v *vodStub) issue(id, ext string) (addr, auth string) {
	a, _ := json.Marshal(map[string]string{"Endpoint": v.ossURL, "Bucket": "outin-bench", "FileName": "sv/bench/" + id + "." + ext})
	exp := time.Now().Add(3000 * time.Second).UTC().Format("2006-01-02T15:04:05Z")
	c, _ := json.Marshal(map[string]string{"SecurityToken": "CAISbenchstubtoken", "AccessKeyId": "STS.bench" + id[:8],
		"AccessKeySecret": "bench-secret", "ExpireUTCTime": exp, "Expiration": "3000", "Region": v.region})
	return base64.StdEncoding.EncodeToString(a), base64.StdEncoding.EncodeToString(c)
}

func randID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 && i < len(name)-1 {
		return strings.ToLower(name[i+1:])
	}
	return "mp4"
}
