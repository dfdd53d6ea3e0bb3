package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a [Server].
type Config struct {
	// Dir, if set, receives part and object bytes (parts under
	// Dir/parts/<uploadId>/<n>, completed objects concatenated under
	// Dir/objects/<bucket>/<key>). Default: bytes are discarded.
	Dir string
	// ETag is "md5" (default: the MD5 of the bytes, as S3 and OSS do) or
	// "none" (a counter; no hashing at all).
	ETag string
	// Keep is the largest put object whose bytes are kept in memory for
	// GET. Default: 16 MiB.
	Keep int64
	// KeepSuffixes limits the kept objects to names with one of these
	// suffixes. Default: .info and .part, the objects tusd's S3 store
	// reads back; others (a gateway's whole-object puts) keep only size
	// and ETag, as multipart objects do, so they cost the sink no memory.
	// The empty suffix keeps every object up to Keep bytes.
	KeepSuffixes []string
}

// Server is the sink's HTTP handler.
type Server struct {
	cfg  Config
	bufs sync.Pool // *[]byte of copyBufSize

	mu      sync.Mutex
	uploads map[string]*mpUpload // by upload ID
	objects map[string]*object   // by bucket + "/" + key
	tus     map[string]*tusUpload

	seq   atomic.Int64
	stats stats
}

type stats struct {
	Requests, Bytes, Initiated, Parts, Completed, Aborted, Puts, Gets, Heads, Deletes, Errors atomic.Int64
	TusCreated, TusBytes, DiscardBytes, Conns                                                 atomic.Int64
}

type mpUpload struct {
	bucket, key string
	initiated   time.Time
	parts       map[int]partMeta
}

type partMeta struct {
	size     int64
	etag     string // quoted
	modified time.Time
}

type object struct {
	size        int64
	etag        string // quoted
	modified    time.Time
	contentType string
	checksums   map[string]string // x-amz-checksum-* headers of the put
	data        []byte            // nil when not kept
	kept        bool
}

// copyBufSize is the read size for request bodies: large reads mean few
// syscalls.
const copyBufSize = 256 << 10

const defaultKeep = 16 << 20

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.ETag == "" {
		cfg.ETag = "md5"
	}
	if cfg.ETag != "md5" && cfg.ETag != "none" {
		return nil, fmt.Errorf("sink: etag mode %q: want md5 or none", cfg.ETag)
	}
	if cfg.Keep == 0 {
		cfg.Keep = defaultKeep
	}
	if cfg.KeepSuffixes == nil {
		cfg.KeepSuffixes = []string{".info", ".part"}
	}
	s := &Server{cfg: cfg, uploads: map[string]*mpUpload{}, objects: map[string]*object{}, tus: map[string]*tusUpload{}}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	return s, nil
}

// ConnState counts new connections (set it as http.Server.ConnState), so
// /_stats shows whether clients reuse connections.
func (s *Server) ConnState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.stats.Conns.Add(1)
	}
}

// ServeHTTP routes path-style S3/OSS requests, the ceiling endpoints and
// /_stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.Requests.Add(1)
	h := w.Header()
	id := strconv.FormatInt(s.seq.Add(1), 16)
	h.Set("x-amz-request-id", id)
	h.Set("x-oss-request-id", id)
	h.Set("Server", "vodgate-bench-sink")

	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "_stats":
		s.serveStats(w)
		return
	case strings.HasPrefix(p, "_discard"):
		s.serveDiscard(w, r)
		return
	case p == "_tus" || strings.HasPrefix(p, "_tus/"):
		s.serveTus(w, r, strings.TrimPrefix(strings.TrimPrefix(p, "_tus"), "/"))
		return
	}
	if r.Header.Get("Content-Encoding") == "aws-chunked" || strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "aws-chunked bodies are not supported; use an http:// endpoint")
		return
	}
	bucket, key, _ := strings.Cut(p, "/")
	if bucket == "" {
		s.fail(w, r, http.StatusBadRequest, "InvalidBucketName", "no bucket in path")
		return
	}
	q := r.URL.Query()
	_, hasUploads := q["uploads"]
	uploadID := q.Get("uploadId")
	switch {
	case key == "" && r.Method == http.MethodPost && has(q, "delete"):
		s.deleteObjects(w, r, bucket)
	case key == "":
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "bucket operations are not supported")
	case r.Method == http.MethodPost && hasUploads:
		s.initiate(w, r, bucket, key)
	case r.Method == http.MethodPut && uploadID != "" && q.Get("partNumber") != "":
		s.uploadPart(w, r, bucket, key, uploadID, q.Get("partNumber"))
	case r.Method == http.MethodGet && uploadID != "":
		s.listParts(w, r, bucket, key, uploadID)
	case r.Method == http.MethodPost && uploadID != "":
		s.complete(w, r, bucket, key, uploadID)
	case r.Method == http.MethodDelete && uploadID != "":
		s.abort(w, r, uploadID)
	case r.Method == http.MethodPut:
		s.putObject(w, r, bucket, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.getObject(w, r, bucket, key)
	case r.Method == http.MethodDelete:
		s.deleteObject(w, bucket, key)
	default:
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", r.Method+" "+r.URL.RawQuery)
	}
}

func has(q map[string][]string, k string) bool { _, ok := q[k]; return ok }

// consume reads body to its end into the hash (if any) and the file (if
// any) and returns the byte count.
func (s *Server) consume(body io.Reader, h hash.Hash, f *os.File) (int64, error) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := body.Read(buf)
		if m > 0 {
			n += int64(m)
			if h != nil {
				h.Write(buf[:m])
			}
			if f != nil {
				if _, werr := f.Write(buf[:m]); werr != nil {
					return n, werr
				}
			}
		}
		if err == io.EOF {
			s.stats.Bytes.Add(n)
			return n, nil
		}
		if err != nil {
			s.stats.Bytes.Add(n)
			return n, err
		}
	}
}

// newHash returns the ETag hash, or nil in "none" mode.
func (s *Server) newHash() hash.Hash {
	if s.cfg.ETag == "none" {
		return nil
	}
	return md5.New()
}

func (s *Server) etag(h hash.Hash) string {
	if h == nil {
		return fmt.Sprintf("\"%032x\"", s.seq.Add(1))
	}
	return "\"" + hex.EncodeToString(h.Sum(nil)) + "\""
}

// keeps reports whether a put object of this name and length keeps its
// bytes for GET.
func (s *Server) keeps(key string, length int64) bool {
	if length < 0 || length > s.cfg.Keep {
		return false
	}
	for _, suf := range s.cfg.KeepSuffixes {
		if strings.HasSuffix(key, suf) {
			return true
		}
	}
	return false
}

func (s *Server) partPath(uploadID string, n int) string {
	return filepath.Join(s.cfg.Dir, "parts", uploadID, strconv.Itoa(n))
}

func (s *Server) objectPath(bucket, key string) string {
	return filepath.Join(s.cfg.Dir, "objects", bucket, filepath.FromSlash(key))
}

// errorBody is the S3 and OSS error document.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	s.stats.Errors.Add(1)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeXML(w, status, errorBody{Code: code, Message: msg, RequestID: w.Header().Get("x-amz-request-id"), HostID: "sink"})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
}
