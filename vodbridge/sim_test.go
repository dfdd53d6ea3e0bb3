package vodbridge

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// These tests run the real SDK through vodbridge against the VOD simulator
// (which verifies ACS3 signatures independently) backed by the OSS
// simulator.

const (
	simAK     = "LTAIsimgateway"
	simSecret = "sim-gateway-secret"
)

type simEnv struct {
	oss *osstest.Server
	vod *vodtest.Server
}

func newSim(t *testing.T, mutate func(*vodtest.Config)) simEnv {
	t.Helper()
	discard := slog.New(slog.DiscardHandler)
	oss := osstest.NewServer(osstest.Config{Logger: discard})
	t.Cleanup(oss.Close)
	cfg := vodtest.Config{OSS: oss, AccessKeys: map[string]string{simAK: simSecret}, Logger: discard}
	if mutate != nil {
		mutate(&cfg)
	}
	vs := vodtest.NewServer(cfg)
	t.Cleanup(vs.Close)
	return simEnv{oss: oss, vod: vs}
}

func (e simEnv) client(t *testing.T, mutate func(*Config)) *Client {
	t.Helper()
	return newTestClient(t, e.vod.Endpoint(), func(c *Config) {
		c.AccessKeyID, c.AccessKeySecret = simAK, simSecret
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestSimCreate(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	for _, tc := range []struct {
		name    string
		req     CreateRequest
		simType string
		params  map[string]string
	}{
		{"video", CreateRequest{Title: "Holiday", FileName: "holiday.mp4", FileSize: 1 << 20, Tags: []string{"a", "b"}, CateID: 9},
			"video", map[string]string{"Title": "Holiday", "FileName": "holiday.mp4", "FileSize": "1048576", "Tags": "a,b", "CateId": "9"}},
		{"image", CreateRequest{Type: MediaImage, FileName: "cover.JPG", Title: "cover"},
			"image", map[string]string{"ImageType": "default", "ImageExt": "jpg"}},
		{"attached", CreateRequest{Type: MediaAttached, BusinessType: "subtitle", FileName: "en.srt", FileSize: 2048},
			"attached", map[string]string{"BusinessType": "subtitle", "MediaExt": "srt", "FileSize": "2048"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			tgt, err := c.CreateUpload(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("CreateUpload: %v", err)
			}
			m, ok := env.vod.Media(tgt.MediaID)
			if !ok {
				t.Fatalf("simulator has no media %s", tgt.MediaID)
			}
			if m.Type != tc.simType || m.Status != "Uploading" {
				t.Errorf("media = %+v", m)
			}
			for k, v := range tc.params {
				if m.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, m.Params[k], v)
				}
			}
			if tgt.Type != tc.req.Type && !(tc.req.Type == "" && tgt.Type == MediaVideo) {
				t.Errorf("Type = %q", tgt.Type)
			}
			a := tgt.Address
			if a.Endpoint != env.oss.URL() || a.Bucket != m.Bucket || a.FileName != m.Key || !strings.HasPrefix(a.Bucket, "outin-") {
				t.Errorf("address = %+v, media bucket/key %s/%s, oss %s", a, m.Bucket, m.Key, env.oss.URL())
			}
			cr := tgt.Credential
			if !strings.HasPrefix(cr.AccessKeyID, "STS.") || cr.AccessKeySecret == "" || !strings.HasPrefix(cr.SecurityToken, "CAIS") || cr.Region != "cn-shanghai" {
				t.Errorf("credential = %v", cr)
			}
			// Simulator TTL 3000s; ExpireUTCTime has second precision.
			if lo, hi := before.Add(3000*time.Second-2*time.Second), time.Now().Add(3000*time.Second); cr.Expires.Before(lo) || cr.Expires.After(hi) {
				t.Errorf("Expires = %v, want in [%v, %v]", cr.Expires, lo, hi)
			}
			if tc.req.Type != MediaVideo && tc.req.Type != "" && tgt.MediaURL == "" {
				t.Errorf("MediaURL empty for %s", tc.req.Type)
			}
		})
	}
}

func TestSimRefreshKeepsAddress(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	created, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mov"})
	if err != nil {
		t.Fatal(err)
	}
	refreshed, err := c.RefreshUpload(t.Context(), created.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.MediaID != created.MediaID || refreshed.Address != created.Address || refreshed.Type != MediaVideo {
		t.Errorf("refresh changed the target:\n%v\n%v", created, refreshed)
	}
	if refreshed.Credential.AccessKeyID == created.Credential.AccessKeyID ||
		refreshed.Credential.AccessKeySecret == created.Credential.AccessKeySecret ||
		refreshed.Credential.SecurityToken == created.Credential.SecurityToken {
		t.Errorf("refresh did not issue a new credential")
	}
	if got := env.vod.CallCount("RefreshUploadVideo"); got != 1 {
		t.Errorf("RefreshUploadVideo calls = %d", got)
	}
}

func TestSimShortCredentialTTL(t *testing.T) {
	// ExpireUTCTime (and Expiration) below CredentialLifetime win.
	clock := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	env := newSim(t, func(c *vodtest.Config) { c.CredentialTTL = 10 * time.Minute; c.Clock = now; c.MaxSkew = -1 })
	c := env.client(t, func(c *Config) { c.Clock = now })
	tgt, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Add(10 * time.Minute); !tgt.Credential.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", tgt.Credential.Expires, want)
	}
	// And CredentialLifetime below the simulator's TTL caps it.
	c2 := env.client(t, func(c *Config) { c.Clock = now; c.CredentialLifetime = time.Minute })
	tgt, err = c2.RefreshUpload(t.Context(), tgt.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Add(time.Minute); !tgt.Credential.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", tgt.Credential.Expires, want)
	}
}

func TestSimTypedErrors(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	for _, tc := range []struct {
		name     string
		call     func() error
		sentinel error
		code     string
	}{
		{"bad extension", func() error {
			_, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "virus.exe"})
			return err
		}, ErrInvalidArgument, "InvalidFileName.Extension"},
		{"unknown video", func() error {
			_, err := c.RefreshUpload(t.Context(), "0123456789abcdef0123456789abcdef")
			return err
		}, ErrNotFound, "InvalidVideo.NotFound"},
		{"unknown template group", func() error {
			_, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4", TemplateGroupID: "nope"})
			return err
		}, ErrNotFound, "InvalidTemplateGroupId.NotFound"},
		{"wrong secret", func() error {
			bad := env.client(t, func(c *Config) { c.AccessKeySecret = "wrong" })
			_, err := bad.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
			return err
		}, ErrAuth, "SignatureDoesNotMatch"},
		{"unknown access key", func() error {
			bad := env.client(t, func(c *Config) { c.AccessKeyID = "LTAInobody" })
			_, err := bad.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
			return err
		}, ErrAuth, "InvalidAccessKeyId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae *APIError
			if !errors.As(err, &ae) || !errors.Is(err, tc.sentinel) || ae.Code != tc.code || ae.Attempts != 1 {
				t.Fatalf("err = %v, want *APIError %s wrapping %v after 1 attempt", err, tc.code, tc.sentinel)
			}
			if ae.RequestID == "" {
				t.Errorf("no RequestID in %+v", ae)
			}
			if strings.Contains(err.Error(), simSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSimThrottlingRetried(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	env.vod.FailNext("CreateUploadVideo", 2, 400, "Throttling.User")
	tgt, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil {
		t.Fatalf("CreateUpload after 2 throttles: %v", err)
	}
	if _, ok := env.vod.Media(tgt.MediaID); !ok {
		t.Errorf("media %s missing", tgt.MediaID)
	}
	if n := env.vod.CallCount("CreateUploadVideo"); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}
	if n := len(env.vod.AllMedia()); n != 1 {
		t.Errorf("%d media created, want 1", n)
	}
}

func TestSimThrottlingExhausted(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, func(c *Config) { c.MaxAttempts = 4 })
	env.vod.FailNext("RefreshUploadVideo", 10, 503, "ServiceUnavailable")
	env.vod.FailNext("CreateUploadVideo", 10, 400, "Throttling.User")
	_, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	var ae *APIError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &ae) || ae.Attempts != 4 {
		t.Fatalf("err = %v, want ErrThrottled after 4 attempts", err)
	}
	if n := env.vod.CallCount("CreateUploadVideo"); n != 4 {
		t.Errorf("calls = %d, want 4", n)
	}
	if _, err := c.RefreshUpload(t.Context(), "v"); !errors.Is(err, ErrThrottled) {
		t.Errorf("refresh err = %v", err)
	}
}

func TestSimServerErrorRetried(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	env.vod.FailNext("CreateUploadImage", 1, 500, "InternalError")
	if _, err := c.CreateUpload(t.Context(), CreateRequest{Type: MediaImage, FileName: "a.png"}); err != nil {
		t.Fatal(err)
	}
	if n := env.vod.CallCount("CreateUploadImage"); n != 2 {
		t.Errorf("calls = %d, want 2", n)
	}
}

func TestSimContextTimeout(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, func(c *Config) { c.Timeout = 10 * time.Second })
	env.vod.SetLatency(3 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.CreateUpload(ctx, CreateRequest{Title: "t", FileName: "a.mp4"})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("CreateUpload took %v despite a 200ms ctx", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}

	// The per-attempt Timeout also holds when ctx has no deadline; an
	// idempotent call is retried, Create is not.
	c2 := env.client(t, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.MaxAttempts = 2 })
	start = time.Now()
	err = c2.DeleteMedia(t.Context(), MediaVideo, "v")
	if took := time.Since(start); took > 2*time.Second || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 attempts") {
		t.Errorf("DeleteMedia: took %v, err %v", took, err)
	}
	env.vod.SetLatency(0)
}

func TestSimDelete(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	ctx := t.Context()
	var ids []string
	for _, req := range []CreateRequest{
		{Title: "v", FileName: "v.mp4"},
		{Type: MediaImage, FileName: "i.png"},
		{Type: MediaAttached, BusinessType: "watermark", FileName: "w.png"},
	} {
		tgt, err := c.CreateUpload(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tgt.MediaID)
	}
	if err := c.DeleteMultipartUpload(ctx, MediaVideo, ids[0]); err != nil {
		t.Errorf("DeleteMultipartUpload: %v", err)
	}
	for i, typ := range []MediaType{MediaVideo, MediaImage, MediaAttached} {
		if err := c.DeleteMedia(ctx, typ, ids[i]); err != nil {
			t.Errorf("DeleteMedia(%s): %v", typ, err)
		}
		if _, ok := env.vod.Media(ids[i]); ok {
			t.Errorf("%s %s still exists", typ, ids[i])
		}
	}
	if err := c.DeleteMedia(ctx, MediaVideo, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteVideo: %v, want ErrNotFound", err)
	}
	if err := c.DeleteMultipartUpload(ctx, MediaVideo, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteMultipartUpload of deleted video: %v, want ErrNotFound", err)
	}
	if err := c.DeleteMultipartUpload(ctx, MediaImage, ids[1]); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("DeleteMultipartUpload(image): %v, want ErrInvalidArgument (VOD takes video only)", err)
	}
	tgt, err := c.CreateUpload(ctx, CreateRequest{Title: "v", FileName: "v.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.vod.Forbid(tgt.MediaID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMedia(ctx, MediaVideo, tgt.MediaID); !errors.Is(err, ErrAuth) {
		t.Errorf("DeleteVideo of forbidden video: %v, want ErrAuth", err)
	}
}

func TestSimSTSGatewayKey(t *testing.T) {
	env := newSim(t, func(c *vodtest.Config) { c.SecurityTokens = map[string]string{simAK: "gateway-sts-token"} })
	ok := env.client(t, func(c *Config) { c.SecurityToken = "gateway-sts-token" })
	if _, err := ok.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"}); err != nil {
		t.Fatalf("with token: %v", err)
	}
	missing := env.client(t, nil)
	if _, err := missing.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"}); !errors.Is(err, ErrAuth) {
		t.Fatalf("without token: %v", err)
	}
}

func TestSimRedaction(t *testing.T) {
	env := newSim(t, nil)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := env.client(t, func(c *Config) { c.Logger = logger })
	env.vod.FailNext("CreateUploadVideo", 1, 503, "ServiceUnavailable")
	tgt, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("CredentialIssued", "credential", tgt.Credential)
	logger.Info("TargetReady", "target", tgt)
	out := buf.String()
	for _, s := range []string{tgt.Credential.AccessKeySecret, tgt.Credential.SecurityToken, simSecret} {
		if strings.Contains(out, s) {
			t.Errorf("log leaks a secret:\n%s", out)
		}
	}
	if !strings.Contains(out, tgt.Credential.AccessKeyID) {
		t.Errorf("log lacks the AccessKey id:\n%s", out)
	}
}

func TestSimConcurrent(t *testing.T) {
	env := newSim(t, nil)
	c := env.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			tgt, err := c.CreateUpload(context.Background(), CreateRequest{Title: "t", FileName: "a.mp4"})
			if err == nil {
				_, err = c.RefreshUpload(context.Background(), tgt.MediaID)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(env.vod.AllMedia()); n != 8 {
		t.Errorf("%d media, want 8", n)
	}
}
