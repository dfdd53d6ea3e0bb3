package vodtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

// Defaults applied by NewServer.
const (
	DefaultCredentialTTL    = 3000 * time.Second
	DefaultRegion           = "cn-shanghai"
	DefaultMaxSkew          = 15 * time.Minute
	DefaultLeftoverPartsTTL = 7 * 24 * time.Hour
	DefaultURLJobStep       = time.Second
	// APIVersion is the only x-acs-version / Version accepted.
	APIVersion = "2017-03-21"
	// NoTranscodeTemplateGroup is always a known TemplateGroupId.
	NoTranscodeTemplateGroup = "VOD_NO_TRANSCODE"
)

// Config configures a Server. Fields marked required must be set; the rest have defaults.
type Config struct {
	// OSS is where UploadAddress points and where upload credentials are granted. Required.
	OSS *osstest.Server
	// AccessKeys maps AccessKey ID -> secret accepted on VOD calls. Required.
	AccessKeys map[string]string
	// SecurityTokens maps AccessKey ID -> the x-acs-security-token it must carry (STS keys).
	// A key listed here without a token is rejected; a token sent for a key not listed is rejected.
	SecurityTokens map[string]string
	// CredentialTTL is the lifetime of issued upload credentials. Default: 3000s.
	CredentialTTL time.Duration
	// Clock is the server's clock: credential expiry, media timestamps, URL job progress and the
	// x-acs-date skew check all use it. Default: time.Now.
	Clock func() time.Time
	// Region is reported in UploadAuth and used for the default storage location. Default: cn-shanghai.
	Region string
	// Logger receives one debug line per call. If nil, slog.Default().
	Logger *slog.Logger

	// MaxSkew is the allowed difference between x-acs-date and Clock. Default: 15m. Negative disables the check.
	MaxSkew time.Duration
	// StorageLocations are extra known StorageLocation values ("<bucket>.oss-<region>.aliyuncs.com").
	// The default storage location (a fresh outin-<32hex> bucket) is always known.
	StorageLocations []string
	// TemplateGroupIDs are the known TemplateGroupId values besides VOD_NO_TRANSCODE.
	TemplateGroupIDs []string
	// NormalAfter moves a video from UploadSucc to Normal this long after its upload completed.
	// If zero, videos stay in UploadSucc (call SetStatus to move them on).
	NormalAfter time.Duration
	// RevokeOnRefresh makes RefreshUploadVideo revoke the video's earlier credentials at once.
	// If false (the documented behaviour), older credentials keep their own expiry.
	RevokeOnRefresh bool
	// LeftoverPartsTTL stands for VOD's 7-day clean-up of unfinished multipart uploads; see
	// SweepLeftoverParts. Default: 7 days.
	LeftoverPartsTTL time.Duration
	// FetchURLs makes UploadMediaByURL jobs download their source over
	// HTTP (with HTTPClient) and store it as the video's object in the OSS
	// simulator; a job stays DOWNLOADING until the download ends, and a
	// source that cannot be fetched (error, non-2xx) fails the job.
	// Without it nothing is downloaded.
	FetchURLs bool
	// URLJobStep is how long an UploadMediaByURL job spends in each status. Default: 1s.
	URLJobStep time.Duration

	// CallbackURL is the global HTTP event callback, used when an upload's UserData carries no
	// http MessageCallback. If both are empty, no event is delivered. See callbacks.go.
	CallbackURL string
	// CallbackAuthKey is the callback PrivateKey (AuthKey). If set, deliveries carry
	// X-VOD-TIMESTAMP and X-VOD-SIGNATURE = md5hex(url|timestamp|key).
	CallbackAuthKey string
	// CallbackEvents are the event types delivered. Default: FileUploadComplete,
	// ImageUploadComplete, AttachedMediaUploadComplete, UploadByURLComplete.
	CallbackEvents []string
	// HTTPClient delivers callbacks. Default: a client with a 5s timeout.
	HTTPClient *http.Client
	// CallbackAttempts is how many times one event is sent before it is discarded. Default: 3
	// (VOD retries a failed callback twice).
	CallbackAttempts int
	// CallbackRetryInterval is the wait before the first retry; it doubles per retry. Default: 100ms.
	CallbackRetryInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.CredentialTTL <= 0 {
		c.CredentialTTL = DefaultCredentialTTL
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	if c.LeftoverPartsTTL <= 0 {
		c.LeftoverPartsTTL = DefaultLeftoverPartsTTL
	}
	if c.URLJobStep <= 0 {
		c.URLJobStep = DefaultURLJobStep
	}
	c.setCallbackDefaults()
}

func (c *Config) validate() error {
	if c.OSS == nil {
		return errors.New("vodtest: Config.OSS is required")
	}
	if len(c.AccessKeys) == 0 {
		return errors.New("vodtest: Config.AccessKeys is required")
	}
	return nil
}

// Server is an ApsaraVideo VOD API simulator listening on loopback. All methods are safe for
// concurrent use.
type Server struct {
	cfg            Config
	log            *slog.Logger
	ln             net.Listener
	srv            *http.Server
	hostID         string
	defaultStorage string
	storages       map[string]string // StorageLocation -> bucket
	templates      map[string]bool
	actions        map[string]actionFunc

	mu       sync.Mutex
	media    map[string]*mediaRec
	byObject map[string]string // bucket + "/" + key -> media id
	jobs     map[string]*urlJob
	jobOrder []string
	calls    []Call
	faults   map[string][]*fault
	latency  time.Duration
	// replyDelay holds answers per action (SetReplyDelay).
	replyDelay map[string]time.Duration
	nonces     map[string]time.Time

	cb *notifier // event callbacks; see callbacks.go and deliver.go
}

// NewServer starts a simulator on 127.0.0.1 with a random port. It panics if cfg is invalid or
// the listener cannot be opened, like httptest.NewServer.
func NewServer(cfg Config) *Server {
	s, err := NewServerAt("127.0.0.1:0", cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// NewServerAt starts a simulator listening on addr (dev mode).
func NewServerAt(addr string, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vodtest: listen %s: %w", addr, err)
	}
	s := newServer(cfg)
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	cfg.OSS.OnComplete(s.objectCompleted)
	return s, nil
}

func newServer(cfg Config) *Server {
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "vodtest"),
		hostID:    "vod." + cfg.Region + ".aliyuncs.com",
		storages:  map[string]string{},
		templates: map[string]bool{NoTranscodeTemplateGroup: true},
		media:     map[string]*mediaRec{},
		byObject:  map[string]string{},
		jobs:      map[string]*urlJob{},
		faults:    map[string][]*fault{},
		nonces:    map[string]time.Time{},
	}
	s.cb = newNotifier(cfg, s.log)
	bucket := "outin-" + randHex(16)
	s.defaultStorage = bucket + ".oss-" + cfg.Region + ".aliyuncs.com"
	s.storages[s.defaultStorage] = bucket
	for _, loc := range cfg.StorageLocations {
		b, _, _ := strings.Cut(loc, ".")
		s.storages[loc] = b
	}
	for _, id := range cfg.TemplateGroupIDs {
		s.templates[id] = true
	}
	s.actions = map[string]actionFunc{
		"CreateUploadVideo":         s.createUploadVideo,
		"RefreshUploadVideo":        s.refreshUploadVideo,
		"CreateUploadImage":         s.createUploadImage,
		"CreateUploadAttachedMedia": s.createUploadAttachedMedia,
		"GetVideoInfo":              s.getVideoInfo,
		"GetMezzanineInfo":          s.getMezzanineInfo,
		"GetUploadDetails":          s.getUploadDetails,
		"GetImageInfo":              s.getImageInfo,
		"DeleteVideo":               s.deleteVideo,
		"DeleteImage":               s.deleteImage,
		"DeleteAttachedMedia":       s.deleteAttachedMedia,
		"DeleteMultipartUpload":     s.deleteMultipartUpload,
		"UploadMediaByURL":          s.uploadMediaByURL,
		"GetURLUploadInfos":         s.getURLUploadInfos,
	}
	return s
}

// Endpoint returns "127.0.0.1:PORT", the value for the SDK's Config.Endpoint (with Protocol "http").
func (s *Server) Endpoint() string { return s.ln.Addr().String() }

// DefaultStorageLocation returns the storage location used when a request names none.
func (s *Server) DefaultStorageLocation() string { return s.defaultStorage }

// Close stops the listener, closes open connections and stops callback deliveries in flight.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.cb.close()
}

// Call is one recorded API call. Params never include Signature, SecurityToken or other
// protocol parameters.
type Call struct {
	Time   time.Time
	Action string
	Params map[string]string
	Status int
	Code   string
	// AccessKeyID is the caller's AccessKey ID once the signature verified; "" otherwise.
	AccessKeyID string
}

// Calls returns every call so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Params = cloneMap(c.Params)
		out[i] = c
	}
	return out
}

// CallCount returns how many calls of action were received (failed ones included).
func (s *Server) CallCount(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

type fault struct {
	n      int
	status int
	code   string
}

// FailNext makes the next n authenticated calls of action (or of any action if action is "*")
// fail with status and code, e.g. (400, "Throttling.User"), (503, "ServiceUnavailable").
func (s *Server) FailNext(action string, n int, status int, code string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[action] = append(s.faults[action], &fault{n: n, status: status, code: code})
}

// SetLatency delays every API answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetReplyDelay holds the answer to every call of action for d after the
// call took effect (0 clears it), so a test can kill the caller between
// VOD doing something and the caller learning of it.
func (s *Server) SetReplyDelay(action string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replyDelay == nil {
		s.replyDelay = map[string]time.Duration{}
	}
	s.replyDelay[action] = d
}

// ExpireAll makes every issued upload credential expire now (it delegates to the OSS simulator,
// so it affects that simulator's other credentials too).
func (s *Server) ExpireAll() { s.cfg.OSS.ExpireAll() }

// takeFault consumes one pending fault for action, if any.
func (s *Server) takeFault(action string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{action, "*"} {
		q := s.faults[key]
		for len(q) > 0 && q[0].n <= 0 {
			q = q[1:]
		}
		s.faults[key] = q
		if len(q) > 0 {
			q[0].n--
			return q[0]
		}
	}
	return nil
}

// request is what an action handler sees.
type request struct {
	action string
	params map[string]string
	now    time.Time
	cred   credential
}

type actionFunc func(ctx context.Context, req *request) (map[string]any, *apiError)

// isProtocolParam reports whether k is an RPC protocol parameter; those (Signature and
// SecurityToken among them) are never recorded in Calls or Media.Params.
func isProtocolParam(k string) bool {
	switch k {
	case "Signature", "SecurityToken", "AccessKeyId", "SignatureMethod", "SignatureVersion",
		"SignatureNonce", "SignatureType", "Timestamp", "Format", "Version", "Action":
		return true
	}
	return false
}

// ServeHTTP serves the VOD RPC API on "/" and the inspection API under "/_sim/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveSim(w, r)
		return
	}
	requestID := newRequestID()
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	params := map[string][]string(r.URL.Query())
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		form, ferr := url.ParseQuery(string(body))
		if ferr == nil {
			params = mergeValues(params, form)
		}
	}
	action := r.Header.Get("x-acs-action")
	if action == "" {
		action = first(params, "Action")
	}
	now := s.cfg.Clock()
	resp, cred, aerr := s.handle(r, action, params, body, now)
	s.mu.Lock()
	hold := s.replyDelay[action]
	s.mu.Unlock()
	if hold > 0 {
		select { // the action took effect; its answer comes late, or never
		case <-time.After(hold):
		case <-r.Context().Done():
		}
	}
	status, code := http.StatusOK, ""
	if aerr != nil {
		status, code = aerr.Status, aerr.Code
		writeJSON(w, status, requestID, errorBody{RequestId: requestID, HostId: s.hostID, Code: aerr.Code, Message: aerr.Message})
	} else {
		resp["RequestId"] = requestID
		writeJSON(w, status, requestID, resp)
	}
	s.record(Call{Time: now, Action: action, Params: publicParams(params), Status: status, Code: code, AccessKeyID: cred.AccessKeyID})
	s.log.Debug("VODCall", "action", action, "status", status, "code", code, "request_id", requestID)
}

func (s *Server) handle(r *http.Request, action string, params map[string][]string, body []byte, now time.Time) (map[string]any, credential, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, credential{}, newError(http.StatusBadRequest, codeBadMethod, "This http method not supported.")
	}
	fn, ok := s.actions[action]
	if r.URL.Path != "/" || !ok {
		return nil, credential{}, newError(http.StatusNotFound, codeAPINotFound,
			"Specified api is not found, please check your url and method.")
	}
	cred, aerr := s.authenticate(r, params, body, now)
	if aerr != nil {
		return nil, credential{}, aerr
	}
	version := r.Header.Get("x-acs-version")
	if version == "" {
		version = first(params, "Version")
	}
	if version != APIVersion {
		return nil, cred, errInvalid("Version")
	}
	if f := s.takeFault(action); f != nil {
		return nil, cred, &apiError{Status: f.status, Code: f.code, Message: defaultMessage(f.code)}
	}
	resp, aerr := fn(r.Context(), &request{action: action, params: publicParams(params), now: now, cred: cred})
	return resp, cred, aerr
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func publicParams(params map[string][]string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		if !isProtocolParam(k) && len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func mergeValues(a, b map[string][]string) map[string][]string {
	out := make(map[string][]string, len(a)+len(b))
	for k, v := range a {
		out[k] = append([]string(nil), v...)
	}
	for k, v := range b {
		out[k] = append(out[k], v...)
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// randHex returns 2n lower-case hex digits from crypto/rand.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randAlnum returns n random characters from [A-Za-z0-9].
func randAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newRequestID returns an upper-case UUID-shaped id like VOD's RequestId.
func newRequestID() string {
	h := strings.ToUpper(randHex(16))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
