package vodbridge

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVOD is a minimal VOD API stand-in: it checks the ACS3 envelope the
// SDK puts on the wire (POST /, x-acs-action, x-acs-version, Authorization
// naming our AccessKey, STS token header), records calls and answers from a
// per-action queue of canned replies, falling back to a success answer.
type fakeVOD struct {
	t     *testing.T
	srv   *httptest.Server
	ak    string
	token string // required x-acs-security-token, if set

	mu      sync.Mutex
	calls   []fakeCall
	queue   map[string][]reply
	expire  string // ExpireUTCTime put in UploadAuth; "" = none
	address map[string]any
}

type fakeCall struct {
	Action string
	Query  url.Values
	Header http.Header
}

type reply struct {
	status int
	body   string
	ctype  string        // default application/json;charset=utf-8
	delay  time.Duration // sleep before answering (request ctx aware)
}

const (
	testAK     = "LTAItestgatewayAK"
	testSecret = "gateway-secret-DO-NOT-LOG"
	stsSecret  = "sts-secret-DO-NOT-LOG"
	stsToken   = "CAIStoken-DO-NOT-LOG"
)

func newFakeVOD(t *testing.T) *fakeVOD {
	t.Helper()
	f := &fakeVOD{t: t, ak: testAK, queue: map[string][]reply{}}
	f.address = map[string]any{
		"Endpoint": "https://oss-cn-shanghai.aliyuncs.com",
		"Bucket":   "outin-0123456789abcdef0123456789abcdef",
		"FileName": "sv/4a5b/17c8-abc.mp4",
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// endpoint returns host:port for Config.Endpoint.
func (f *fakeVOD) endpoint() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// push queues replies for action; they are used in order before the default.
func (f *fakeVOD) push(action string, rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue[action] = append(f.queue[action], rs...)
}

func (f *fakeVOD) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeVOD) count(action string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

func (f *fakeVOD) serve(w http.ResponseWriter, r *http.Request) {
	action := r.Header.Get("x-acs-action")
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Action: action, Query: r.URL.Query(), Header: r.Header.Clone()})
	var rep *reply
	if q := f.queue[action]; len(q) > 0 {
		rep, f.queue[action] = &q[0], q[1:]
	}
	f.mu.Unlock()

	if problem := f.checkEnvelope(r); problem != "" {
		writeJSON(w, 400, fmt.Sprintf(`{"RequestId":"rid-env","Code":"TestEnvelope","Message":%q}`, problem), "")
		return
	}
	if rep == nil {
		rep = &reply{status: 200, body: f.success(action, r.URL.Query())}
	}
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, rep.status, rep.body, rep.ctype)
}

func (f *fakeVOD) checkEnvelope(r *http.Request) string {
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return "want POST /, got " + r.Method + " " + r.URL.Path
	case r.Header.Get("x-acs-version") != "2017-03-21":
		return "bad x-acs-version " + r.Header.Get("x-acs-version")
	case r.Header.Get("x-acs-action") == "":
		return "no x-acs-action"
	case !strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-HMAC-SHA256 Credential="+f.ak+","):
		return "bad Authorization " + r.Header.Get("Authorization")
	case r.Header.Get("x-acs-content-sha256") == "":
		return "no x-acs-content-sha256"
	case f.token != "" && r.Header.Get("x-acs-security-token") != f.token:
		return "missing or wrong x-acs-security-token"
	case f.token == "" && r.Header.Get("x-acs-security-token") != "":
		return "unexpected x-acs-security-token"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, body, ctype string) {
	if ctype == "" {
		ctype = "application/json;charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeVOD) success(action string, q url.Values) string {
	f.mu.Lock()
	addr := b64JSON(f.address)
	expire := f.expire
	n := len(f.calls)
	f.mu.Unlock()
	auth := map[string]any{
		"AccessKeyId":     fmt.Sprintf("STS.upload%d", n),
		"AccessKeySecret": stsSecret,
		"SecurityToken":   stsToken,
		"Expiration":      "3000",
		"Region":          "cn-shanghai",
	}
	if expire != "" {
		auth["ExpireUTCTime"] = expire
	}
	body := map[string]any{"RequestId": fmt.Sprintf("rid-%d", n), "UploadAddress": addr, "UploadAuth": b64JSON(auth)}
	switch action {
	case "CreateUploadVideo":
		body["VideoId"] = "vid0001"
	case "RefreshUploadVideo":
		body["VideoId"] = q.Get("VideoId")
	case "CreateUploadImage":
		body["ImageId"] = "img0001"
		body["ImageURL"] = "https://cdn.example.com/image/default/img0001.png"
		body["FileURL"] = "https://outin.oss/image/img0001.png"
	case "CreateUploadAttachedMedia":
		body["MediaId"] = "att0001"
		body["MediaURL"] = "https://cdn.example.com/attached/att0001.srt"
	default:
		body = map[string]any{"RequestId": fmt.Sprintf("rid-%d", n)}
	}
	b, _ := json.Marshal(body)
	return string(b)
}

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.StdEncoding.EncodeToString(b)
}

func vodError(status int, code, msg string) reply {
	return reply{status: status, body: fmt.Sprintf(
		`{"RequestId":"rid-err-%s","HostId":"vod.cn-shanghai.aliyuncs.com","Code":%q,"Message":%q}`, code, code, msg)}
}

// newTestClient builds a client for f with fast backoff; mutate may adjust
// the config first.
func newTestClient(t *testing.T, endpoint string, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		AccessKeyID:     testAK,
		AccessKeySecret: testSecret,
		Endpoint:        endpoint,
		Protocol:        "http",
		Timeout:         2 * time.Second,
		Logger:          slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.backoffBase, c.backoffMax = time.Millisecond, 4*time.Millisecond
	t.Cleanup(func() { c.Close() })
	return c
}
