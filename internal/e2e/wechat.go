package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// wxOptions are the options of js/wechat-upload.cjs, which runs the
// WeChat mini-program example (examples/wechat-miniprogram) on a wx shim.
type wxOptions struct {
	AppDir           string            `json:"appDir"`
	Mode             string            `json:"mode,omitempty"` // client | page
	Endpoint         string            `json:"endpoint"`
	File             string            `json:"file"`
	Token            string            `json:"token,omitempty"`
	ChunkSize        int64             `json:"chunkSize,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	StoreKey         string            `json:"storeKey,omitempty"`
	StorageFile      string            `json:"storageFile,omitempty"`
	RetryDelays      []int             `json:"retryDelays,omitempty"`
	Timeout          int               `json:"timeout,omitempty"`    // wx.request timeout, ms
	HeaderCase       string            `json:"headerCase,omitempty"` // lower | asis | upper
	Cut              *wxFault          `json:"cut,omitempty"`
	Kill             *wxFault          `json:"kill,omitempty"`
	ProbePatch       bool              `json:"probePatch,omitempty"`
	AbortAfterChunks int               `json:"abortAfterChunks,omitempty"`
	Terminate        bool              `json:"terminate,omitempty"`
}

// wxFault makes the shim drop the nth request with a body after afterBytes
// of it (cut: the request fails; kill: the process dies with SIGKILL).
type wxFault struct {
	Nth        int   `json:"nth"`
	AfterBytes int64 `json:"afterBytes"`
}

// wxRequest is one wx.request the shim saw.
type wxRequest struct {
	Method    string `json:"method"`
	Override  string `json:"override"`
	Refused   bool   `json:"refused"`
	Status    int    `json:"status"`
	Offset    string `json:"offset"`
	MediaID   string `json:"mediaId"`
	BodyBytes int64  `json:"bodyBytes"`
	ErrMsg    string `json:"errMsg"`
}

// wxEvent is one line of js/wechat-upload.cjs.
type wxEvent struct {
	Event string `json:"event"` // created | chunk | retry | result

	UploadURL string `json:"uploadUrl"`
	MediaID   string `json:"mediaId"`
	Offset    int64  `json:"offset"`
	Attempt   int    `json:"attempt"`
	Delay     int    `json:"delay"`
	Error     string `json:"error"`
	Status    int    `json:"status"`

	OK          bool           `json:"ok"`
	Aborted     bool           `json:"aborted"`
	MediaType   string         `json:"mediaType"`
	VideoID     string         `json:"videoId"`
	ProbeErrMsg string         `json:"probeErrMsg"`
	Page        map[string]any `json:"page"`
	Requests    []wxRequest    `json:"requests"`
}

// wxResult is a finished run: its events (the result last, if printed)
// and how the process ended.
type wxResult struct {
	Events []wxEvent
	Result *wxEvent
	Err    error // the process's exit error (nil: exit code 0)
	Stderr string
}

// events returns the events of kind.
func (r wxResult) events(kind string) []wxEvent {
	var out []wxEvent
	for _, e := range r.Events {
		if e.Event == kind {
			out = append(out, e)
		}
	}
	return out
}

// killed reports whether the process died of SIGKILL.
func (r wxResult) killed() bool {
	var ee *exec.ExitError
	return errors.As(r.Err, &ee) && ee.ProcessState.String() == "signal: killed"
}

// runWeChat runs js/wechat-upload.cjs to its end.
func runWeChat(t testing.TB, opt wxOptions) wxResult {
	t.Helper()
	node := testenv.Node(t)
	if opt.AppDir == "" {
		root, ok := testenv.RepoRoot()
		if !ok {
			t.Fatal("repository root not found")
		}
		opt.AppDir = filepath.Join(root, "examples", "wechat-miniprogram")
	}
	arg, err := json.Marshal(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, jsPath("wechat-upload.cjs"), string(arg))
	var stdout bytes.Buffer
	stderr := newTailLog(64 << 10)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	runErr := cmd.Run()
	res := wxResult{Err: runErr, Stderr: stderr.String()}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev wxEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Logf("wechat-upload.cjs stdout (not JSON): %s", sc.Bytes())
			continue
		}
		res.Events = append(res.Events, ev)
		if ev.Event == "result" {
			r := ev
			res.Result = &r
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("wechat-upload.cjs did not finish in time; stderr: %s", res.Stderr)
	}
	return res
}

// requireWxOK fails the test unless the run printed a successful result.
func requireWxOK(t testing.TB, r wxResult) *wxEvent {
	t.Helper()
	if r.Result == nil {
		t.Fatalf("wechat-upload.cjs printed no result (%v); stderr: %s", r.Err, r.Stderr)
	}
	if !r.Result.OK {
		t.Fatalf("mini-program upload failed: %s (status %d); requests: %+v; stderr: %s", r.Result.Error, r.Result.Status, r.Result.Requests, r.Stderr)
	}
	return r.Result
}

// checkNoPatchSent asserts that every request with a body went out as POST
// with X-HTTP-Method-Override: PATCH and that no PATCH reached the network.
func checkNoPatchSent(t testing.TB, reqs []wxRequest) {
	t.Helper()
	for _, rq := range reqs {
		if rq.Method == "PATCH" && !rq.Refused {
			t.Errorf("the shim sent a PATCH: %+v", rq)
		}
		if rq.BodyBytes > 0 && (rq.Method != "POST" || rq.Override != "PATCH") {
			t.Errorf("request with %d body bytes sent as %s (override %q), want POST with X-HTTP-Method-Override: PATCH", rq.BodyBytes, rq.Method, rq.Override)
		}
	}
}
