package osstest

import "time"

// Op names an OSS operation, using the OSS API names.
type Op string

// The operations the simulator serves.
const (
	OpInitiate   Op = "InitiateMultipartUpload"
	OpUploadPart Op = "UploadPart"
	OpListParts  Op = "ListParts"
	OpComplete   Op = "CompleteMultipartUpload"
	OpAbort      Op = "AbortMultipartUpload"
	OpPut        Op = "PutObject"
	OpGet        Op = "GetObject"
	OpHead       Op = "HeadObject"
	OpDelete     Op = "DeleteObject"
	// OpUnsupported is recorded for requests the simulator does not implement
	// (they get 501 NotImplemented).
	OpUnsupported Op = "Unsupported"
)

// Call records one OSS request as the server saw it.
//
// Status is the HTTP status sent, or 0 when the connection was reset by
// [Server.ResetNext]. Code is the OSS error code sent, "" on success,
// "ConnectionReset" for a reset and "ResponseLost" when [Server.LoseNextResponse]
// dropped the answer (Status then holds the status that was not delivered).
// Bytes counts request body bytes read (writes) or response body bytes written (GET).
type Call struct {
	Time        time.Time `json:"time"`
	Op          Op        `json:"op"`
	Bucket      string    `json:"bucket"`
	Key         string    `json:"key"`
	UploadID    string    `json:"uploadId,omitempty"`
	PartNumber  int       `json:"partNumber,omitempty"`
	AccessKeyID string    `json:"accessKeyId,omitempty"`
	Bytes       int64     `json:"bytes"`
	Status      int       `json:"status"`
	Code        string    `json:"code,omitempty"`
	// Host is the Host the request was sent to (a region or an
	// acceleration endpoint name; the simulator answers on any).
	Host string `json:"host,omitempty"`
	// Parts are the part numbers a Complete listed (nil with
	// x-oss-complete-all or a malformed list).
	Parts []int `json:"parts,omitempty"`
}

// Calls returns a copy of the recorded calls, oldest first (at most [MaxCalls]).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns how many calls of op the server has received, including
// failed and fault-injected ones.
func (s *Server) CallCount(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callCount[op]
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callCount[c.Op]++
	if len(s.calls) >= MaxCalls {
		n := copy(s.calls, s.calls[len(s.calls)/10:])
		s.calls = s.calls[:n]
	}
	s.calls = append(s.calls, c)
}
