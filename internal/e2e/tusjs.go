package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// tusOptions are the options of js/tus-upload.mjs.
type tusOptions struct {
	Endpoint                 string            `json:"endpoint,omitempty"`
	UploadURL                string            `json:"uploadUrl,omitempty"`
	File                     string            `json:"file"`
	ChunkSize                int64             `json:"chunkSize,omitempty"`
	Deferred                 bool              `json:"deferred,omitempty"`
	Metadata                 map[string]string `json:"metadata,omitempty"`
	Headers                  map[string]string `json:"headers,omitempty"`
	RetryDelays              []int             `json:"retryDelays,omitempty"`
	PauseBeforePatch         []int             `json:"pauseBeforePatch,omitempty"`
	UploadDataDuringCreation bool              `json:"uploadDataDuringCreation,omitempty"`
	// Protocol is tus-js-client's protocol option: "" (tus-v1),
	// "ietf-draft-03" (interop 5) or "ietf-draft-05" (interop 6).
	Protocol            string            `json:"protocol,omitempty"`
	ParallelUploads     int               `json:"parallelUploads,omitempty"`
	MetadataForPartials map[string]string `json:"metadataForPartialUploads,omitempty"`
	FinalOrder          []int             `json:"finalOrder,omitempty"`
	SourceBuffer        bool              `json:"sourceBuffer,omitempty"`
	Warmup              int               `json:"warmup,omitempty"`
}

// tusRequest is one request/response the client saw.
type tusRequest struct {
	Method  string `json:"method"`
	Status  int    `json:"status"`
	Offset  *int64 `json:"offset,omitempty"`
	MediaID string `json:"mediaId,omitempty"`
	// HeaderGen counts the header sets given with resumeWithHeaders before
	// this request was sent (0: the Headers option only).
	HeaderGen int `json:"headerGen,omitempty"`
}

// tusEvent is one line printed by js/tus-upload.mjs.
type tusEvent struct {
	Event string `json:"event"` // paused | retry | result

	// paused
	Patch  int   `json:"patch,omitempty"`
	Offset int64 `json:"offset,omitempty"`
	// retry
	Attempt int    `json:"attempt,omitempty"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	// result
	OK           bool         `json:"ok"`
	UploadURL    string       `json:"uploadUrl,omitempty"`
	MediaID      string       `json:"mediaId,omitempty"`
	MediaType    string       `json:"mediaType,omitempty"`
	PostMediaID  string       `json:"postMediaId,omitempty"`
	FinalMediaID string       `json:"finalMediaId,omitempty"`
	Offsets      []int64      `json:"offsets,omitempty"`
	Requests     []tusRequest `json:"requests,omitempty"`
	Bytes        int64        `json:"bytes,omitempty"`
	MS           int64        `json:"ms,omitempty"`
	Body         string       `json:"body,omitempty"`
}

// tusRun is a running js/tus-upload.mjs.
type tusRun struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan tusEvent // paused and retry events
	result chan tusEvent // the result, once
	stderr *tailLog
	cancel context.CancelFunc
}

// jsPath is the path of a script in js/ (tests run in the package directory).
func jsPath(name string) string {
	p, _ := filepath.Abs(filepath.Join("js", name))
	return p
}

// startTus starts one tus-js-client upload in Node.
func startTus(t testing.TB, opt tusOptions) *tusRun {
	t.Helper()
	node := testenv.Node(t)
	arg, err := json.Marshal(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, node, jsPath("tus-upload.mjs"), string(arg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &tusRun{
		t:      t,
		cmd:    cmd,
		stdin:  stdin,
		events: make(chan tusEvent, 100),
		result: make(chan tusEvent, 1),
		stderr: newTailLog(64 << 10),
		cancel: cancel,
	}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() && r.stderr.String() != "" {
			t.Logf("---- tus-upload.mjs stderr ----\n%s", r.stderr.String())
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		got := false
		for sc.Scan() {
			line := sc.Bytes()
			var ev tusEvent
			if err := json.Unmarshal(line, &ev); err != nil {
				r.stderr.Printf("stdout (not JSON): %s", line)
				continue
			}
			if ev.Event == "result" {
				if !got {
					r.result <- ev
					got = true
				}
				continue
			}
			select {
			case r.events <- ev:
			default:
			}
		}
		if !got {
			r.result <- tusEvent{Event: "result", Error: "tus-upload.mjs exited without a result line"}
		}
		close(r.events)
	}()
	return r
}

// nextEvent waits for the next paused or retry event of kind.
func (r *tusRun) nextEvent(kind string, timeout time.Duration) (tusEvent, bool) {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-r.events:
			if !ok {
				return tusEvent{}, false
			}
			if ev.Event == kind {
				return ev, true
			}
		case <-deadline:
			return tusEvent{}, false
		}
	}
}

// mustEvent is nextEvent that fails the test on timeout.
func (r *tusRun) mustEvent(kind string, timeout time.Duration) tusEvent {
	r.t.Helper()
	ev, ok := r.nextEvent(kind, timeout)
	if !ok {
		r.t.Fatalf("tus-upload.mjs: no %q event within %v (stderr: %s)", kind, timeout, r.stderr.String())
	}
	return ev
}

// resume releases a pause.
func (r *tusRun) resume() {
	r.t.Helper()
	if _, err := io.WriteString(r.stdin, "continue\n"); err != nil {
		r.t.Fatalf("tus-upload.mjs: resume: %v", err)
	}
}

// resumeWithHeaders releases a pause and sets hdr (e.g. a renewed
// Authorization) on the paused PATCH and on every later request.
func (r *tusRun) resumeWithHeaders(hdr map[string]string) {
	r.t.Helper()
	line, err := json.Marshal(map[string]any{"headers": hdr})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.stdin.Write(append(line, '\n')); err != nil {
		r.t.Fatalf("tus-upload.mjs: resume with headers: %v", err)
	}
}

// wait returns the result line.
func (r *tusRun) wait(timeout time.Duration) tusEvent {
	r.t.Helper()
	select {
	case res := <-r.result:
		return res
	case <-time.After(timeout):
		r.cancel()
		r.t.Fatalf("tus-upload.mjs: no result within %v (stderr: %s)", timeout, r.stderr.String())
		return tusEvent{}
	}
}

// runTus runs one upload to its end and fails the test unless it succeeded.
func runTus(t testing.TB, opt tusOptions) tusEvent {
	t.Helper()
	res := startTus(t, opt).wait(5 * time.Minute)
	requireOK(t, res)
	return res
}

func requireOK(t testing.TB, res tusEvent) {
	t.Helper()
	if !res.OK {
		t.Fatalf("tus-js-client upload failed: %s (status %d, body %q); requests: %s",
			res.Error, res.Status, res.Body, describeRequests(res.Requests))
	}
}

// checkOffsetsMonotonic asserts that the server never answered with an
// Upload-Offset lower than one it answered before.
func checkOffsetsMonotonic(t testing.TB, res tusEvent) {
	t.Helper()
	var max int64
	for _, rq := range res.Requests {
		if rq.Offset == nil || rq.Status >= 300 {
			continue
		}
		if *rq.Offset < max {
			t.Errorf("Upload-Offset went back from %d to %d (%s); requests: %s", max, *rq.Offset, rq.Method, describeRequests(res.Requests))
			return
		}
		max = *rq.Offset
	}
}

func describeRequests(rs []tusRequest) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Method)
		b.WriteString(" ")
		b.WriteString(itoa(int64(r.Status)))
		if r.Offset != nil {
			b.WriteString(" @")
			b.WriteString(itoa(*r.Offset))
		}
	}
	return b.String()
}
