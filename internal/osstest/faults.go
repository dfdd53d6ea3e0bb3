package osstest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

type faultKind int

const (
	faultFail faultKind = iota + 1
	faultReset
	faultLose
	faultCRC
)

// fault is a queued injection; n counts the calls it still applies to.
type fault struct {
	kind       faultKind
	n          int
	status     int
	code       string
	afterBytes int64
}

// FailNext makes the next n calls of op answer status with the OSS error
// code, without performing the operation (the request body is read and
// discarded first). status 0 means 500, code "" means "InternalError".
// Faults of one op apply in the order they were queued; n <= 0 clears every
// queued fault of op. Faults fire before authentication.
func (s *Server) FailNext(op Op, n int, status int, code string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if code == "" {
		code = "InternalError"
	}
	s.queueFault(op, &fault{kind: faultFail, n: n, status: status, code: code})
}

// ResetNext makes the next n calls of op read afterBytes of the request body
// (or all of it, if shorter) and then kill the TCP connection with a reset,
// sending no response. The operation is not performed. n <= 0 clears op's faults.
// Note that net/http replays a bodiless GET or HEAD once when a reused
// connection dies, so one failed SDK call of those may consume two resets.
func (s *Server) ResetNext(op Op, n int, afterBytes int64) {
	s.queueFault(op, &fault{kind: faultReset, n: n, afterBytes: max(afterBytes, 0)})
}

// LoseNextResponse makes the next n calls of op be performed in full (state
// changes included) and then kill the connection instead of answering, as
// when a response is lost in the network. n <= 0 clears op's faults. As with
// ResetNext, net/http may replay a bodiless GET or HEAD once.
func (s *Server) LoseNextResponse(op Op, n int) {
	s.queueFault(op, &fault{kind: faultLose, n: n})
}

// CorruptNextCRC makes the next n calls of op be performed normally but answer
// an x-oss-hash-crc64ecma that is off by one bit (UploadPart, PutObject, GetObject,
// Complete), so the SDK's client-side check fails with oss.CRCCheckError.
// n <= 0 clears op's faults.
func (s *Server) CorruptNextCRC(op Op, n int) {
	s.queueFault(op, &fault{kind: faultCRC, n: n})
}

// HoldPart makes every UploadPart of part number n, once its body has
// been read, wait before the part is stored and answered, until release
// is called: the part is in flight, received but not acknowledged. A call
// whose client goes away meanwhile ends without storing the part.
func (s *Server) HoldPart(n int) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.holds == nil {
		s.holds = make(map[int]chan struct{})
	}
	s.holds[n] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.holds[n] == ch {
				delete(s.holds, n)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// held waits while part n is held; false if ctx ended first.
func (s *Server) held(ctx context.Context, n int) bool {
	s.mu.Lock()
	ch := s.holds[n]
	s.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// SetLatency delays every OSS request by d before it is handled (not /_sim/).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetBandwidth limits each request body read and each response body written
// to bytesPerSec, per request. 0 means unlimited.
func (s *Server) SetBandwidth(bytesPerSec int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bandwidth = max(bytesPerSec, 0)
}

func (s *Server) queueFault(op Op, f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.n <= 0 {
		delete(s.faults, op)
		return
	}
	s.faults[op] = append(s.faults[op], f)
}

// takeFault consumes one application of the first queued fault of op.
func (s *Server) takeFault(op Op) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[op]
	if len(q) == 0 {
		return fault{}, false
	}
	f := *q[0]
	if q[0].n--; q[0].n <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.faults, op)
	} else {
		s.faults[op] = q
	}
	return f, true
}

func (s *Server) shaping() (time.Duration, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency, s.bandwidth
}

// killConn hijacks the connection behind w and closes it with a TCP reset
// (SO_LINGER 0), so the client sees "connection reset by peer" or EOF.
func killConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// statusWriter records the status and body bytes of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// lostWriter is the ResponseWriter of a LoseNextResponse call: it keeps the
// status and throws the response away.
type lostWriter struct {
	header http.Header
}

func (w *lostWriter) Header() http.Header         { return w.header }
func (w *lostWriter) WriteHeader(int)             {}
func (w *lostWriter) Write(p []byte) (int, error) { return len(p), nil }
