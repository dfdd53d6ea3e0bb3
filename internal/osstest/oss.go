package osstest

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// request is one OSS request being served.
type request struct {
	s      *Server
	w      http.ResponseWriter // the handler's writer (discards when the response is to be lost)
	sw     *statusWriter
	r      *http.Request
	id     string
	q      url.Values
	op     Op
	bucket string
	key    string
	ak     string
	code   string
	bytes  int64 // request body bytes consumed
	bps    int64
	badCRC bool  // CorruptNextCRC: flip a bit of x-oss-hash-crc64ecma
	parts  []int // the part numbers a Complete listed
}

// classify maps method and sub-resources to an operation.
func classify(method string, q url.Values) Op {
	_, uploads := q["uploads"]
	_, uploadID := q["uploadId"]
	_, partNumber := q["partNumber"]
	switch {
	case method == http.MethodPost && uploads:
		return OpInitiate
	case method == http.MethodPut && uploadID && partNumber:
		return OpUploadPart
	case method == http.MethodGet && uploadID:
		return OpListParts
	case method == http.MethodPost && uploadID:
		return OpComplete
	case method == http.MethodDelete && uploadID:
		return OpAbort
	case uploads || uploadID || partNumber:
		return OpUnsupported
	}
	for k := range q {
		switch k {
		case "acl", "append", "tagging", "symlink", "restore", "x-oss-process", "comp", "delete":
			return OpUnsupported
		}
	}
	switch method {
	case http.MethodPut:
		return OpPut
	case http.MethodGet:
		return OpGet
	case http.MethodHead:
		return OpHead
	case http.MethodDelete:
		return OpDelete
	}
	return OpUnsupported
}

func (s *Server) serveOSS(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rq := &request{s: s, w: sw, sw: sw, r: r, id: s.newRequestID()}
	rq.bucket, rq.key = splitPath(r.URL.Path)
	q, qerr := url.ParseQuery(r.URL.RawQuery)
	rq.q = q
	rq.op = classify(r.Method, q)
	h := w.Header()
	h.Set("x-oss-request-id", rq.id)
	h.Set("Server", "AliyunOSS")
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))

	call := Call{Time: s.now(), Op: rq.op, Bucket: rq.bucket, Key: rq.key, UploadID: q.Get("uploadId"), Host: r.Host}
	call.PartNumber, _ = strconv.Atoi(q.Get("partNumber"))
	lost, kill := false, false
	defer func() {
		if kill {
			defer killConn(w) // after recording, so the call is visible once the client sees it die
		}
		call.AccessKeyID, call.Status, call.Code = rq.ak, sw.status, rq.code
		call.Bytes, call.Parts = rq.bytes, rq.parts
		if rq.op == OpGet {
			call.Bytes = sw.bytes
		}
		if lost {
			call.Code = "ResponseLost"
		}
		s.record(call)
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("OSSRequest", "op", call.Op, "bucket", call.Bucket, "key", call.Key,
				"uploadId", call.UploadID, "part", call.PartNumber, "status", call.Status, "code", call.Code, "requestId", rq.id)
		}
	}()

	latency, bps := s.shaping()
	rq.bps = bps
	if latency > 0 {
		if err := sleepCtx(r.Context(), latency); err != nil {
			return
		}
	}
	if f, ok := s.takeFault(rq.op); ok {
		switch f.kind {
		case faultFail:
			rq.fail(newErr(f.status, f.code, injectedMessage(f.code), ""))
			return
		case faultReset:
			rq.bytes, _ = io.CopyN(io.Discard, r.Body, f.afterBytes)
			sw.status, rq.code, kill = 0, "ConnectionReset", true
			return
		case faultLose:
			lost, kill = true, true
			sw.ResponseWriter = &lostWriter{header: http.Header{}}
		case faultCRC:
			rq.badCRC = true
		}
	}

	switch {
	case qerr != nil:
		rq.fail(errInvalidArgument("Malformed query string.", "", ""))
		return
	case !validBucket(rq.bucket):
		rq.fail(newErr(400, "InvalidBucketName", "The specified bucket is not valid.", "0015-00000101").with("BucketName", rq.bucket))
		return
	case rq.key == "" || rq.op == OpUnsupported:
		rq.fail(errNotImplemented())
		return
	case len(rq.key) > 1023:
		rq.fail(newErr(400, "InvalidObjectName", "The specified object is not valid.", ""))
		return
	}
	ak, e := s.authenticate(authRequest{r: r, bucket: rq.bucket, key: rq.key, query: q})
	rq.ak = ak
	if e != nil {
		rq.fail(e)
		return
	}
	switch rq.op {
	case OpInitiate:
		s.initiate(rq)
	case OpUploadPart:
		s.uploadPart(rq)
	case OpListParts:
		s.listParts(rq)
	case OpComplete:
		s.complete(rq)
	case OpAbort:
		s.abort(rq)
	case OpPut:
		s.putObject(rq)
	case OpGet, OpHead:
		s.getObject(rq)
	case OpDelete:
		s.deleteObject(rq)
	}
}

// fail sends an OSS error. An unread request body is drained first so the
// client reliably sees the response rather than a broken pipe.
func (rq *request) fail(e *ossError) {
	rq.code = e.code
	n, _ := io.Copy(io.Discard, io.LimitReader(rq.r.Body, maxPartSize))
	rq.bytes += n
	writeError(rq.w, rq.r, rq.id, e)
}

// sendXML writes v as an XML document with status.
func (rq *request) sendXML(status int, v any) {
	body, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		rq.fail(errInternal(err.Error()))
		return
	}
	body = append([]byte(xml.Header), body...)
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(body)
}

// setCRC sets x-oss-hash-crc64ecma (corrupted when a CorruptNextCRC fault applies).
func (rq *request) setCRC(crc uint64) {
	if rq.badCRC {
		crc ^= 1
	}
	rq.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc, 10))
}

// ctx is the request context; handlers use it only for pacing sleeps.
func (rq *request) ctx() context.Context { return rq.r.Context() }

// isoTime formats t as OSS does in XML: 2012-02-23T07:01:34.000Z.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
