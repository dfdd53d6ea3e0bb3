package vodbridge

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreateUploadParams(t *testing.T) {
	for _, tc := range []struct {
		name     string
		req      CreateRequest
		action   string
		params   map[string]string // expected query params ("" = must be absent)
		wantID   string
		wantURL  string
		wantType MediaType
	}{
		{
			name: "video",
			req: CreateRequest{Title: "My clip", FileName: "clip.MP4", FileSize: 12345, Description: "d",
				CoverURL: "https://c/x.jpg", CateID: 7, Tags: []string{" a ", "", "b c"}, TemplateGroupID: "tg",
				WorkflowID: "wf", StorageLocation: "outin-x.oss-cn-shanghai.aliyuncs.com", AppID: "app-1", UserData: `{"Extend":{"k":"v"}}`,
				ImageType: "cover", BusinessType: "watermark"},
			action: "CreateUploadVideo",
			params: map[string]string{"Title": "My clip", "FileName": "clip.MP4", "FileSize": "12345", "Description": "d",
				"CoverURL": "https://c/x.jpg", "CateId": "7", "Tags": "a,b c", "TemplateGroupId": "tg", "WorkflowId": "wf",
				"StorageLocation": "outin-x.oss-cn-shanghai.aliyuncs.com", "AppId": "app-1", "UserData": `{"Extend":{"k":"v"}}`,
				"ImageType": "", "BusinessType": ""},
			wantID: "vid0001", wantType: MediaVideo,
		},
		{
			name:   "video minimal, type defaults to video",
			req:    CreateRequest{Title: "t", FileName: "a.mov"},
			action: "CreateUploadVideo",
			params: map[string]string{"Title": "t", "FileName": "a.mov", "FileSize": "", "Tags": "", "CateId": ""},
			wantID: "vid0001", wantType: MediaVideo,
		},
		{
			name:   "image defaults",
			req:    CreateRequest{Type: MediaImage, FileName: "dir/Photo.JPEG", Title: "p", Tags: []string{"x"}, CateID: 3},
			action: "CreateUploadImage",
			params: map[string]string{"ImageType": "default", "ImageExt": "jpeg", "OriginalFileName": "dir/Photo.JPEG",
				"Title": "p", "Tags": "x", "CateId": "3", "FileName": ""},
			wantID: "img0001", wantURL: "https://cdn.example.com/image/default/img0001.png", wantType: MediaImage,
		},
		{
			name:   "image explicit",
			req:    CreateRequest{Type: MediaImage, ImageType: "cover", ImageExt: "gif", FileName: "x.png"},
			action: "CreateUploadImage",
			params: map[string]string{"ImageType": "cover", "ImageExt": "gif"},
			wantID: "img0001", wantURL: "https://cdn.example.com/image/default/img0001.png", wantType: MediaImage,
		},
		{
			name:   "image without extension",
			req:    CreateRequest{Type: MediaImage},
			action: "CreateUploadImage",
			params: map[string]string{"ImageType": "default", "ImageExt": ""},
			wantID: "img0001", wantURL: "https://cdn.example.com/image/default/img0001.png", wantType: MediaImage,
		},
		{
			name: "attached",
			req: CreateRequest{Type: MediaAttached, BusinessType: "subtitle", FileName: "subs.en.SRT", FileSize: 999,
				CateID: 5, Title: "subs"},
			action: "CreateUploadAttachedMedia",
			params: map[string]string{"BusinessType": "subtitle", "MediaExt": "srt", "FileName": "subs.en.SRT",
				"FileSize": "999", "CateIds": "5", "CateId": "", "Title": "subs"},
			wantID: "att0001", wantURL: "https://cdn.example.com/attached/att0001.srt", wantType: MediaAttached,
		},
		{
			name:   "attached explicit ext",
			req:    CreateRequest{Type: MediaAttached, BusinessType: "material", MediaExt: "zip", FileName: "a.bin"},
			action: "CreateUploadAttachedMedia",
			params: map[string]string{"MediaExt": "zip", "FileSize": ""},
			wantID: "att0001", wantURL: "https://cdn.example.com/attached/att0001.srt", wantType: MediaAttached,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVOD(t)
			c := newTestClient(t, f.endpoint(), nil)
			tgt, err := c.CreateUpload(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("CreateUpload: %v", err)
			}
			calls := f.Calls()
			if len(calls) != 1 || calls[0].Action != tc.action {
				t.Fatalf("calls = %+v, want one %s", calls, tc.action)
			}
			q := calls[0].Query
			for k, want := range tc.params {
				if got, ok := q[k]; want == "" && ok {
					t.Errorf("param %s = %q, want absent", k, got)
				} else if want != "" && q.Get(k) != want {
					t.Errorf("param %s = %q, want %q", k, q.Get(k), want)
				}
			}
			if tgt.MediaID != tc.wantID || tgt.Type != tc.wantType || tgt.MediaURL != tc.wantURL {
				t.Errorf("target = %v", tgt)
			}
			wantAddr := Address{Endpoint: "https://oss-cn-shanghai.aliyuncs.com", Bucket: "outin-0123456789abcdef0123456789abcdef", FileName: "sv/4a5b/17c8-abc.mp4"}
			if tgt.Address != wantAddr {
				t.Errorf("address = %+v", tgt.Address)
			}
			cr := tgt.Credential
			if !strings.HasPrefix(cr.AccessKeyID, "STS.") || cr.AccessKeySecret != stsSecret || cr.SecurityToken != stsToken || cr.Region != "cn-shanghai" {
				t.Errorf("credential = %+v", cr) // %+v uses String(): redacted
			}
		})
	}
}

func TestCreateUploadRejectedLocally(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), nil)
	for _, tc := range []struct {
		name string
		req  CreateRequest
	}{
		{"video without title", CreateRequest{FileName: "a.mp4"}},
		{"video without file name", CreateRequest{Title: "t"}},
		{"attached without business type", CreateRequest{Type: MediaAttached, FileName: "a.srt"}},
		{"unknown type", CreateRequest{Type: "audio", Title: "t", FileName: "a.mp3"}},
		{"tag with comma", CreateRequest{Title: "t", FileName: "a.mp4", Tags: []string{"a,b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.CreateUpload(t.Context(), tc.req); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls reached VOD", n)
	}
}

func TestRefreshUpload(t *testing.T) {
	f := newFakeVOD(t)
	now := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	f.expire = "2026-11-24T15:40:00Z"
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.Clock = func() time.Time { return now } })
	created, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	refreshed, err := c.RefreshUpload(t.Context(), created.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if calls[1].Action != "RefreshUploadVideo" || calls[1].Query.Get("VideoId") != created.MediaID {
		t.Errorf("refresh call = %+v", calls[1])
	}
	if refreshed.MediaID != created.MediaID || refreshed.Type != MediaVideo || refreshed.Address != created.Address {
		t.Errorf("refresh changed identity: %v vs %v", refreshed, created)
	}
	if refreshed.Credential.AccessKeyID == created.Credential.AccessKeyID {
		t.Errorf("refresh kept AccessKeyID %s", created.Credential.AccessKeyID)
	}
	// min(ExpireUTCTime 15:40, issue+Expiration 3000s = 15:50, issue+lifetime 15:50)
	if want := time.Date(2026, 11, 24, 15, 40, 0, 0, time.UTC); !refreshed.Credential.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", refreshed.Credential.Expires, want)
	}
	for _, bad := range []string{"", "a,b", "a b"} {
		if _, err := c.RefreshUpload(t.Context(), bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("RefreshUpload(%q) = %v", bad, err)
		}
	}
}

func TestDeleteCalls(t *testing.T) {
	for _, tc := range []struct {
		name   string
		run    func(*Client) error
		action string
		params map[string]string
	}{
		{"video", func(c *Client) error { return c.DeleteMedia(context.Background(), MediaVideo, "v1") },
			"DeleteVideo", map[string]string{"VideoIds": "v1"}},
		{"image", func(c *Client) error { return c.DeleteMedia(context.Background(), MediaImage, "i1") },
			"DeleteImage", map[string]string{"DeleteImageType": "ImageId", "ImageIds": "i1"}},
		{"attached", func(c *Client) error { return c.DeleteMedia(context.Background(), MediaAttached, "m1") },
			"DeleteAttachedMedia", map[string]string{"MediaIds": "m1"}},
		{"multipart", func(c *Client) error { return c.DeleteMultipartUpload(context.Background(), MediaVideo, "v2") },
			"DeleteMultipartUpload", map[string]string{"MediaId": "v2", "MediaType": "video"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVOD(t)
			c := newTestClient(t, f.endpoint(), nil)
			if err := tc.run(c); err != nil {
				t.Fatal(err)
			}
			calls := f.Calls()
			if len(calls) != 1 || calls[0].Action != tc.action {
				t.Fatalf("calls = %+v", calls)
			}
			for k, v := range tc.params {
				if got := calls[0].Query.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDeleteReportsNonExistAndForbidden(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), nil)
	f.push("DeleteVideo", reply{status: 200, body: `{"RequestId":"r","NonExistVideoIds":["v1"]}`},
		reply{status: 200, body: `{"RequestId":"r","ForbiddenVideoIds":["v1"]}`})
	f.push("DeleteAttachedMedia", reply{status: 200, body: `{"RequestId":"r","NonExistMediaIds":["m1"]}`})
	if err := c.DeleteMedia(t.Context(), MediaVideo, "v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("non-exist video: %v", err)
	}
	if err := c.DeleteMedia(t.Context(), MediaVideo, "v1"); !errors.Is(err, ErrAuth) {
		t.Errorf("forbidden video: %v", err)
	}
	if err := c.DeleteMedia(t.Context(), MediaAttached, "m1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("non-exist attached: %v", err)
	}
	if err := c.DeleteMedia(t.Context(), "audio", "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown type: %v", err)
	}
	if err := c.DeleteMultipartUpload(t.Context(), MediaVideo, "a,b"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("id list: %v", err)
	}
}

func TestErrorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     reply
		refresh   bool // call RefreshUpload instead of CreateUpload
		sentinel  error
		code      string
		status    int
		wantCalls int
	}{
		{"bad extension", vodError(400, "InvalidFileName.Extension", "The file extension is not supported."), false, ErrInvalidArgument, "InvalidFileName.Extension", 400, 1},
		{"missing title", vodError(400, "MissingTitle", "Title is mandatory for this action."), false, ErrInvalidArgument, "MissingTitle", 400, 1},
		{"unknown video", vodError(404, "InvalidVideo.NotFound", "The video not exist."), true, ErrNotFound, "InvalidVideo.NotFound", 404, 1},
		{"bad signature", vodError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."), false, ErrAuth, "SignatureDoesNotMatch", 400, 1},
		{"unknown ak", vodError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."), true, ErrAuth, "InvalidAccessKeyId.NotFound", 404, 1},
		{"forbidden", vodError(403, "Forbidden.RAM", "User not authorized to operate on the specified resource."), false, ErrAuth, "Forbidden.RAM", 403, 1},
		{"throttled create", vodError(400, "Throttling.User", "Request was denied due to user flow control."), false, ErrThrottled, "Throttling.User", 400, 3},
		{"unavailable", vodError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."), false, ErrThrottled, "ServiceUnavailable", 503, 3},
		{"internal error create", vodError(500, "InternalError", "The request processing has failed due to some unknown error."), false, ErrServer, "InternalError", 500, 3},
		{"html 502 refresh", reply{status: 502, body: "<html>bad gateway</html>", ctype: "text/html"}, true, ErrServer, "BadGateway", 502, 3},
		{"empty 503 refresh", reply{status: 503, body: ""}, true, ErrThrottled, "ServiceUnavailable", 503, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVOD(t)
			c := newTestClient(t, f.endpoint(), nil)
			action := "CreateUploadVideo"
			if tc.refresh {
				action = "RefreshUploadVideo"
			}
			for range 5 {
				f.push(action, tc.reply)
			}
			var err error
			if tc.refresh {
				_, err = c.RefreshUpload(t.Context(), "vid9")
			} else {
				_, err = c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.exe"})
			}
			var ae *APIError
			if !errors.As(err, &ae) || !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v (%T), want *APIError wrapping %v", err, err, tc.sentinel)
			}
			if ae.Op != action || ae.Code != tc.code || ae.Status != tc.status || ae.Attempts != tc.wantCalls {
				t.Errorf("APIError = %+v", *ae)
			}
			if strings.HasPrefix(tc.reply.body, "{") && ae.RequestID != "rid-err-"+tc.code {
				t.Errorf("RequestID = %q", ae.RequestID)
			}
			if n := f.count(action); n != tc.wantCalls {
				t.Errorf("%d calls, want %d", n, tc.wantCalls)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "vodbridge: ") || strings.Contains(msg, "\n") || strings.Contains(msg, testSecret) {
				t.Errorf("Error() = %q", msg)
			}
		})
	}
}

func TestThrottledTwiceThenSuccess(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), nil)
	f.push("CreateUploadVideo", vodError(400, "Throttling.User", "slow down"), vodError(503, "ServiceUnavailable", "busy"))
	tgt, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil || tgt.MediaID != "vid0001" {
		t.Fatalf("CreateUpload = %v, %v", tgt, err)
	}
	if n := f.count("CreateUploadVideo"); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

func TestMaxAttemptsOne(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.MaxAttempts = 1 })
	f.push("DeleteVideo", vodError(500, "InternalError", "x"))
	if err := c.DeleteMedia(t.Context(), MediaVideo, "v"); !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("DeleteVideo"); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestAttemptTimeout(t *testing.T) {
	// Create is not retried after a timeout (VOD may have created the media);
	// Refresh is.
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.Timeout = 100 * time.Millisecond })
	slow := reply{status: 200, body: "{}", delay: 2 * time.Second}
	f.push("CreateUploadVideo", slow, slow, slow)
	f.push("RefreshUploadVideo", slow, slow, slow)
	_, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "vodbridge: CreateUploadVideo") {
		t.Errorf("create err = %v", err)
	}
	if n := f.count("CreateUploadVideo"); n != 1 {
		t.Errorf("create: %d calls, want 1", n)
	}
	_, err = c.RefreshUpload(t.Context(), "vid")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("refresh err = %v", err)
	}
	if n := f.count("RefreshUploadVideo"); n != 3 {
		t.Errorf("refresh: %d calls, want 3", n)
	}
}

func TestCreateRetriedWhenNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c := newTestClient(t, addr, nil)
	_, err = c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || errors.As(err, new(*APIError)) {
		t.Fatalf("err = %v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("err does not wrap the dial error: %v", err)
	}
	if strings.Contains(err.Error(), "Title=") {
		t.Errorf("err shows request parameters: %v", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.Timeout = 50 * time.Millisecond })
	for range 5 {
		f.push("RefreshUploadVideo", reply{status: 200, body: "{}", delay: time.Second})
	}
	f.push("CreateUploadVideo", reply{status: 200, body: "{}", delay: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := c.CreateUpload(ctx, CreateRequest{Title: "t", FileName: "a.mp4"}); err == nil {
		t.Fatal("want timeout")
	}
	if _, err := c.RefreshUpload(t.Context(), "v"); err == nil {
		t.Fatal("want timeout")
	}
	f.srv.Close()
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the calls, %d before", n, before)
	}
}

func TestContextDeadlineHonoured(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.Timeout = 10 * time.Second })
	f.push("RefreshUploadVideo", reply{status: 200, body: "{}", delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.RefreshUpload(ctx, "vid")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v; ctx deadline ignored", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if n := f.count("RefreshUploadVideo"); n != 1 {
		t.Errorf("%d calls after ctx expiry, want 1", n)
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.MaxAttempts = 5 })
	c.backoffBase, c.backoffMax = 10*time.Second, 10*time.Second
	f.push("DeleteVideo", vodError(503, "ServiceUnavailable", "busy"))
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := c.DeleteMedia(ctx, MediaVideo, "v")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrThrottled) {
		t.Errorf("err = %v, want context.Canceled and the last ErrThrottled", err)
	}
	if n := f.count("DeleteVideo"); n != 1 {
		t.Errorf("%d calls", n)
	}
}

func TestSecurityTokenSent(t *testing.T) {
	f := newFakeVOD(t)
	f.token = "gateway-sts-token"
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.SecurityToken = "gateway-sts-token" })
	if _, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"}); err != nil {
		t.Fatal(err)
	}
	if got := f.Calls()[0].Header.Get("x-acs-accesskey-id"); got != testAK {
		t.Errorf("x-acs-accesskey-id = %q", got)
	}
}

func TestConcurrentCalls(t *testing.T) {
	f := newFakeVOD(t)
	c := newTestClient(t, f.endpoint(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = c.CreateUpload(context.Background(), CreateRequest{Title: "t", FileName: "a.mp4"})
			} else {
				_, err = c.RefreshUpload(context.Background(), "vid")
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
}
