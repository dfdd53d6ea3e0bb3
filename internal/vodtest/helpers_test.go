package vodtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"

	"github.com/vodgate/vodgate/internal/osstest"
)

const (
	staticAK = "LTAI5tStaticTestKey"
	staticSK = "static/secret+key=="
	stsAK    = "STS.NTestCallerKey"
	stsSK    = "sts-caller-secret"
	stsToken = "CAIS/test+token=="
)

// fakeClock is a settable clock shared by both simulators.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	clock *fakeClock
	oss   *osstest.Server
	vod   *Server
}

// newEnv starts an OSS and a VOD simulator sharing a fake clock. mutate may adjust the VOD config.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clock := newFakeClock()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	oss := osstest.NewServer(osstest.Config{Clock: clock.Now, MinPartSize: 1024, Logger: quiet})
	t.Cleanup(oss.Close)
	cfg := Config{
		OSS:            oss,
		AccessKeys:     map[string]string{staticAK: staticSK, stsAK: stsSK},
		SecurityTokens: map[string]string{stsAK: stsToken},
		Clock:          clock.Now,
		Logger:         quiet,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv := NewServer(cfg)
	t.Cleanup(srv.Close)
	return &env{clock: clock, oss: oss, vod: srv}
}

// client returns an official VOD SDK client pointed at the simulator.
func (e *env) client(t *testing.T, ak, sk, token string) *vod.Client {
	t.Helper()
	cfg := &openapi.Config{
		Endpoint:        tea.String(e.vod.Endpoint()),
		Protocol:        tea.String("http"),
		RegionId:        tea.String("cn-shanghai"),
		AccessKeyId:     tea.String(ak),
		AccessKeySecret: tea.String(sk),
		ReadTimeout:     tea.Int(10000),
		ConnectTimeout:  tea.Int(5000),
	}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	c, err := vod.NewClient(cfg)
	if err != nil {
		t.Fatalf("vod.NewClient: %v", err)
	}
	return c
}

func (e *env) static(t *testing.T) *vod.Client { return e.client(t, staticAK, staticSK, "") }

type decodedAddress struct {
	Endpoint, Bucket, FileName string
}

type decodedAuth struct {
	AccessKeyId, AccessKeySecret, SecurityToken, Expiration, ExpireUTCTime, Region string
}

func decodeTarget(t *testing.T, addr, auth *string) (decodedAddress, decodedAuth) {
	t.Helper()
	var a decodedAddress
	var c decodedAuth
	for _, x := range []struct {
		in  *string
		out any
	}{{addr, &a}, {auth, &c}} {
		if x.in == nil {
			t.Fatal("missing UploadAddress or UploadAuth")
		}
		raw, err := base64.StdEncoding.DecodeString(*x.in)
		if err != nil {
			t.Fatalf("base64: %v", err)
		}
		if err := json.Unmarshal(raw, x.out); err != nil {
			t.Fatalf("json %s: %v", raw, err)
		}
	}
	return a, c
}

// sdkError returns the *tea.SDKError in err, failing the test if there is none.
func sdkError(t *testing.T, err error) *tea.SDKError {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a *tea.SDKError", err, err)
	}
	return se
}

func createVideo(t *testing.T, c *vod.Client, title, fileName string) *vod.CreateUploadVideoResponseBody {
	t.Helper()
	resp, err := c.CreateUploadVideo(&vod.CreateUploadVideoRequest{Title: tea.String(title), FileName: tea.String(fileName)})
	if err != nil {
		t.Fatalf("CreateUploadVideo: %v", err)
	}
	return resp.Body
}
