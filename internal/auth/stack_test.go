package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/limits"
	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/redisstate"
	"github.com/vodgate/vodgate/internal/server"
	"github.com/vodgate/vodgate/internal/vodtest"
	"github.com/vodgate/vodgate/locker"
	"github.com/vodgate/vodgate/tusstore"
	"github.com/vodgate/vodgate/vodbridge"
)

const (
	akID     = "LTAIstacktest"
	akSecret = "AKsecret9f8e7d6c5b4a3f2e1d0c9b8a"
)

var (
	jwtSecret = []byte("stack-jwt-secret-0123456789abcdef012345")
	tokenKey  = []byte("stack-upload-token-key-0123456789abcdef")
)

// syncBuffer is a log sink shared by every component.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// recordingIssuer remembers every upload credential VOD issued, so the
// test can look for them in the logs.
type recordingIssuer struct {
	*vodbridge.Client
	mu      sync.Mutex
	secrets []string
}

func (r *recordingIssuer) note(t vodbridge.Target, err error) (vodbridge.Target, error) {
	if err == nil {
		r.mu.Lock()
		r.secrets = append(r.secrets, t.Credential.AccessKeySecret, t.Credential.SecurityToken)
		r.mu.Unlock()
	}
	return t, err
}

func (r *recordingIssuer) CreateUpload(ctx context.Context, req vodbridge.CreateRequest) (vodbridge.Target, error) {
	return r.note(r.Client.CreateUpload(ctx, req))
}

func (r *recordingIssuer) RefreshUpload(ctx context.Context, id string) (vodbridge.Target, error) {
	return r.note(r.Client.RefreshUpload(ctx, id))
}

// stack is the gateway as cmd/gateway wires it: internal/server with
// limits and auth around tusd, tusstore on the VOD/OSS simulators, Redis
// records and locks, everything logging at debug level into one buffer.
type stack struct {
	t      *testing.T
	url    string
	vod    *vodtest.Server
	issuer *recordingIssuer
	logs   *syncBuffer
	rdb    redis.UniversalClient
}

func newStack(t *testing.T, lcfg limits.Config, mutate ...func(*auth.Config)) *stack {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	oss := osstest.NewServer(osstest.Config{})
	t.Cleanup(oss.Close)
	vod := vodtest.NewServer(vodtest.Config{OSS: oss, AccessKeys: map[string]string{akID: akSecret}})
	t.Cleanup(vod.Close)
	vb, err := vodbridge.New(vodbridge.Config{AccessKeyID: akID, AccessKeySecret: akSecret,
		Endpoint: vod.Endpoint(), Protocol: "http", Timeout: 5 * time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	issuer := &recordingIssuer{Client: vb}
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })

	acfg := auth.Config{JWTSecret: jwtSecret, UploadTokenKeys: [][]byte{tokenKey},
		Issuer: "https://app.example.com", Audience: []string{"vodgate"}, Logger: logger}
	for _, m := range mutate {
		m(&acfg)
	}
	a, err := auth.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg.OwnerOf, lcfg.Logger = auth.OwnerOf, logger
	l, err := limits.New(rdb, lcfg)
	if err != nil {
		t.Fatal(err)
	}
	lk := locker.New(rdb, locker.Config{Logger: logger})
	t.Cleanup(func() { _ = lk.Close() })
	store, err := tusstore.New(tusstore.Config{VOD: issuer, Records: redisstate.New(rdb, redisstate.Config{}),
		Fencer: lk, CallerOf: auth.CallerOf, PartSize: 1 << 20, BufferBudget: 64 << 20, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	composer := handler.NewStoreComposer()
	store.UseIn(composer)
	lk.UseIn(composer)
	srv, err := server.New(server.Config{StoreComposer: composer, CORSOrigins: []string{"https://app.example.com"},
		Media: store, Expiry: store, Logger: logger, MaxSize: 1 << 30,
		TusMiddleware:     func(h http.Handler) http.Handler { return l.Request(a.Middleware(l.Caller(h))) },
		PreUploadCreate:   a.PreUploadCreate,
		PreFinishResponse: l.PreFinishResponse,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &stack{t: t, url: hs.URL + "/files/", vod: vod, issuer: issuer, logs: logs, rdb: rdb}
}

// jwt returns an HS256 JWT for sub; extra claims override the defaults
// (nil deletes one); key and alg default to the stack's secret and HS256.
func jwt(sub string, extra map[string]any, alg string, key []byte) string {
	c := map[string]any{"sub": sub, "iss": "https://app.example.com", "aud": "vodgate",
		"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	if alg == "" {
		alg = "HS256"
	}
	if key == nil {
		key = jwtSecret
	}
	hb, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT"})
	cb, _ := json.Marshal(c)
	signed := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	if alg == "none" {
		return signed + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func meta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// do sends a tus request with token (if any) and returns the response
// with its body read.
func (s *stack) do(method, url, token string, hdr map[string]string, body []byte) (*http.Response, string) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (s *stack) create(token string, length int, metadata string) string {
	s.t.Helper()
	res, body := s.do(http.MethodPost, s.url, token, map[string]string{
		"Upload-Length": strconv.Itoa(length), "Upload-Metadata": metadata}, nil)
	if res.StatusCode != http.StatusCreated {
		s.t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

// offset is the upload's offset as its owner sees it.
func (s *stack) offset(loc, token string) int {
	s.t.Helper()
	res, _ := s.do(http.MethodHead, loc, token, nil, nil)
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("HEAD as owner: %d", res.StatusCode)
	}
	n, _ := strconv.Atoi(res.Header.Get("Upload-Offset"))
	return n
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestAttacks is the table of attempts: each gets its status and
// leaves alice's upload as it was (HEAD offset as alice, same VOD media).
func TestAttacks(t *testing.T) {
	s := newStack(t, limits.Config{MaxMetadataBytes: 1024, MaxHeaderBytes: 16 << 10})
	alice := jwt("alice", nil, "", nil)
	bob := jwt("bob", nil, "", nil)
	const size = 300 << 10
	data := randomBytes(size, 1)
	loc := s.create(alice, size, meta("filename", "holiday.mp4"))
	if res, body := s.do(http.MethodPatch, loc, alice, map[string]string{"Upload-Offset": "0"}, data[:1000]); res.StatusCode != http.StatusNoContent {
		t.Fatalf("first PATCH: %d %s", res.StatusCode, body)
	}
	guessed := s.url + "0123456789abcdef0123456789abcdef"
	creates := s.vod.CallCount("CreateUploadVideo")

	patch := map[string]string{"Upload-Offset": "1000"}
	for _, tc := range []struct {
		name   string
		method string
		url    string
		token  string
		hdr    map[string]string
		body   []byte
		status int
		want   string // substring of the body (not for HEAD)
	}{
		{"no token", http.MethodPatch, loc, "", patch, data[1000:2000], 401, "missing bearer token"},
		{"expired token", http.MethodPatch, loc, jwt("alice", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}, "", nil), patch, data[1000:2000], 401, "token expired"},
		{"bad signature", http.MethodPatch, loc, jwt("alice", nil, "", []byte("not-the-secret-not-the-secret-0123")), patch, data[1000:2000], 401, "invalid token signature"},
		{"alg none", http.MethodPatch, loc, jwt("alice", nil, "none", nil), patch, data[1000:2000], 401, "alg none"},
		{"wrong issuer", http.MethodDelete, loc, jwt("alice", map[string]any{"iss": "https://evil.example.com"}, "", nil), nil, nil, 401, "wrong token issuer"},
		{"wrong audience", http.MethodHead, loc, jwt("alice", map[string]any{"aud": "someone-else"}, "", nil), nil, nil, 401, ""},
		{"B's token HEAD on A's upload", http.MethodHead, loc, bob, nil, nil, 404, ""},
		{"B's token PATCH on A's upload", http.MethodPatch, loc, bob, patch, data[1000:2000], 404, "ERR_UPLOAD_NOT_FOUND"},
		{"B's token DELETE on A's upload", http.MethodDelete, loc, bob, nil, nil, 404, "ERR_UPLOAD_NOT_FOUND"},
		{"B's token PATCH via method override", http.MethodPost, loc, bob, map[string]string{"X-HTTP-Method-Override": "PATCH",
			"Upload-Offset": "1000", "Content-Type": "application/offset+octet-stream"}, data[1000:2000], 404, ""},
		{"guessed upload ID HEAD", http.MethodHead, guessed, alice, nil, nil, 404, ""},
		{"guessed upload ID PATCH", http.MethodPatch, guessed, alice, map[string]string{"Upload-Offset": "0"}, data[:10], 404, ""},
		{"metadata over the cap", http.MethodPost, s.url, alice, map[string]string{"Upload-Length": "10",
			"Upload-Metadata": meta("filename", "a.mp4", "description", strings.Repeat("d", 1200))}, nil, 400, "ERR_METADATA_TOO_LARGE"},
		{"filename with path traversal", http.MethodPost, s.url, alice, map[string]string{"Upload-Length": "10",
			"Upload-Metadata": meta("filename", "../../etc/cron.d/x.mp4")}, nil, 400, "must not contain a path"},
		{"filename with CR/LF", http.MethodPost, s.url, alice, map[string]string{"Upload-Length": "10",
			"Upload-Metadata": meta("filename", "a\r\nSet-Cookie: x.mp4")}, nil, 400, "control characters"},
		{"headers over the cap", http.MethodPatch, loc, alice, map[string]string{"Upload-Offset": "1000",
			"X-Padding": strings.Repeat("p", 17<<10)}, data[1000:2000], 431, "ERR_HEADERS_TOO_LARGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := s.do(tc.method, tc.url, tc.token, tc.hdr, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.want != "" && !strings.Contains(body, tc.want) {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
			if tc.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if off := s.offset(loc, alice); off != 1000 {
				t.Fatalf("alice's offset is %d, want 1000", off)
			}
			if n := s.vod.CallCount("CreateUploadVideo"); n != creates {
				t.Fatalf("VOD media created (%d calls, want %d)", n, creates)
			}
		})
	}

	// A renewed token (same sub) finishes the upload.
	renewed := jwt("alice", map[string]any{"exp": time.Now().Add(2 * time.Hour).Unix(), "jti": "renewed"}, "", nil)
	res, body := s.do(http.MethodPatch, loc, renewed, map[string]string{"Upload-Offset": "1000"}, data[1000:])
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Upload-Offset") != strconv.Itoa(size) {
		t.Fatalf("PATCH with a renewed token: %d %s", res.StatusCode, body)
	}
	if res.Header.Get(server.HeaderMediaID) == "" {
		t.Fatal("no media ID on the final PATCH")
	}
}

// A claim caps the size: a deferred-length upload is cut at the cap with
// 413 and keeps no byte beyond it.
func TestClaimCappedSizeMidUpload(t *testing.T) {
	s := newStack(t, limits.Config{})
	capped := jwt("carol", map[string]any{"vod_max_size": 300 << 10, "vod_media_types": []string{"video"}}, "", nil)
	res, body := s.do(http.MethodPost, s.url, capped, map[string]string{"Upload-Defer-Length": "1",
		"Upload-Metadata": meta("filename", "clip.mp4")}, nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	res, body = s.do(http.MethodPatch, loc, capped, map[string]string{"Upload-Offset": "0"}, randomBytes(400<<10, 2))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("PATCH past the cap: %d %s", res.StatusCode, body)
	}
	if off := s.offset(loc, capped); off > 300<<10 {
		t.Fatalf("offset %d is past the cap", off)
	}
	res, _ = s.do(http.MethodPost, s.url, capped, map[string]string{"Upload-Length": "1000",
		"Upload-Metadata": meta("filename", "a.png", "type", "image")}, nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("image with a video-only token: %d", res.StatusCode)
	}
	// The CORS fallback lets a browser read the 401.
	res, _ = s.do(http.MethodHead, loc, "", map[string]string{"Origin": "https://app.example.com"}, nil)
	if res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Fatalf("401 CORS headers: %d %v", res.StatusCode, res.Header)
	}
}

// Logs captured at debug level during a whole authenticated upload (an
// upload token, a JWT, a rejection, a hook call) hold none of the secrets.
func TestNoSecretsInLogs(t *testing.T) {
	s := newStack(t, limits.Config{OwnerUploads: 5, OwnerRequests: 100})
	upTok, err := auth.MintUploadToken(tokenKey, auth.UploadClaims{Subject: "dave", Expires: time.Now().Add(time.Hour).Unix(),
		MaxSize: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	jwtTok := jwt("dave", nil, "", nil)
	badTok := jwt("dave", nil, "", []byte("wrong-secret-wrong-secret-0123456789"))
	const size = 2<<20 + 12345
	data := randomBytes(size, 3)
	loc := s.create(upTok, size, meta("filename", "talk.mp4", "title", "Talk"))
	for off, tok := 0, upTok; off < size; {
		end := min(off+700<<10, size)
		res, body := s.do(http.MethodPatch, loc, tok, map[string]string{"Upload-Offset": strconv.Itoa(off)}, data[off:end])
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH at %d: %d %s", off, res.StatusCode, body)
		}
		off, tok = end, jwtTok // switch credentials mid-upload: same owner
	}
	if res, _ := s.do(http.MethodHead, loc, badTok, nil, nil); res.StatusCode != 401 {
		t.Fatalf("bad token: %d", res.StatusCode)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "AuthRejected") || !strings.Contains(logs, "RequestServed") {
		t.Fatalf("logs look empty:\n%s", logs)
	}
	secrets := map[string]string{"upload token": upTok, "JWT": jwtTok, "bad JWT": badTok,
		"JWT signature": jwtTok[strings.LastIndex(jwtTok, ".")+1:], "JWT secret": string(jwtSecret),
		"upload token key": string(tokenKey), "AccessKey secret": akSecret}
	s.issuer.mu.Lock()
	for i, sec := range s.issuer.secrets {
		secrets["VOD credential "+strconv.Itoa(i)] = sec
	}
	s.issuer.mu.Unlock()
	if len(s.issuer.secrets) == 0 {
		t.Fatal("no VOD credential recorded")
	}
	for name, sec := range secrets {
		if sec == "" {
			continue
		}
		if strings.Contains(logs, sec) {
			t.Errorf("logs contain the %s", name)
		}
	}
	// The finished upload no longer counts against dave's unfinished uploads.
	n, err := s.rdb.ZCard(context.Background(), "vodgate:limit:{o:dave}:uploads").Result()
	if err != nil || n != 0 {
		t.Fatalf("dave still has %d unfinished uploads (%v)", n, err)
	}
}

// The pre-create hook runs through internal/server after the metadata
// check: it sees the caller and metadata, may reject (403, no media
// created) or rewrite the metadata VOD receives.
func TestPreCreateHook(t *testing.T) {
	var mu sync.Mutex
	var seen []auth.HookRequest
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req auth.HookRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		if req.Upload.MetaData["title"] == "forbidden" {
			_, _ = io.WriteString(w, `{"allow":false,"reason":"this title is not allowed"}`)
			return
		}
		_, _ = io.WriteString(w, `{"allow":true,"metadata":{"title":"Checked by app","description":null}}`)
	}))
	t.Cleanup(hook.Close)
	s := newStack(t, limits.Config{}, func(c *auth.Config) { c.Hook = auth.HookConfig{URL: hook.URL} })
	erin := jwt("erin", nil, "", nil)

	res, body := s.do(http.MethodPost, s.url, erin, map[string]string{"Upload-Length": "10",
		"Upload-Metadata": meta("filename", "a.mp4", "title", "forbidden")}, nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "this title is not allowed") {
		t.Fatalf("denied creation: %d %s", res.StatusCode, body)
	}
	if n := s.vod.CallCount("CreateUploadVideo"); n != 0 {
		t.Fatalf("VOD media created for a denied upload (%d calls)", n)
	}
	// Malformed metadata is refused before the hook is asked.
	if res, _ := s.do(http.MethodPost, s.url, erin, map[string]string{"Upload-Length": "10",
		"Upload-Metadata": "filename a.mp4"}, nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed metadata: %d", res.StatusCode)
	}
	s.create(erin, 10, meta("filename", "b.mp4", "title", "mine", "description", "gone"))
	var title string
	for _, c := range s.vod.Calls() {
		if c.Action == "CreateUploadVideo" {
			title = c.Params["Title"]
			if _, ok := c.Params["Description"]; ok {
				t.Fatal("description removed by the hook reached VOD")
			}
		}
	}
	if title != "Checked by app" {
		t.Fatalf("VOD title %q, want the hook's", title)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[1].Caller == nil || seen[1].Caller.Owner != "erin" {
		t.Fatalf("hook saw %+v", seen)
	}
	if _, ok := seen[1].Request.Header["Authorization"]; ok {
		t.Fatal("Authorization forwarded to the hook")
	}
}
