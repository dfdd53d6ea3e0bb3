package vodtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

func TestErrorsThroughSDK(t *testing.T) {
	video := func(title, file string) func(*vod.Client) error {
		return func(c *vod.Client) error {
			req := &vod.CreateUploadVideoRequest{}
			if title != "" {
				req.Title = tea.String(title)
			}
			if file != "" {
				req.FileName = tea.String(file)
			}
			_, err := c.CreateUploadVideo(req)
			return err
		}
	}
	videoReq := func(req *vod.CreateUploadVideoRequest) func(*vod.Client) error {
		return func(c *vod.Client) error { _, err := c.CreateUploadVideo(req); return err }
	}
	manyTags := strings.TrimSuffix(strings.Repeat("t,", 17), ",")
	for _, tc := range []struct {
		name          string
		ak, sk, token string
		rpc           bool
		setup         func(*env)
		call          func(*vod.Client) error
		status        int
		code          string
		msg           string
	}{
		{name: "wrong secret", ak: staticAK, sk: "nope", call: video("t", "a.mp4"), status: 400, code: "SignatureDoesNotMatch"},
		{name: "rpc wrong secret", ak: staticAK, sk: "nope", rpc: true, call: video("t", "a.mp4"), status: 400, code: "SignatureDoesNotMatch", msg: "POST&%2F&"},
		{name: "rpc sts key without token", ak: stsAK, sk: stsSK, rpc: true, call: video("t", "a.mp4"), status: 400, code: "MissingSecurityToken"},
		{name: "unknown access key", ak: "LTAIunknown", sk: "x", call: video("t", "a.mp4"), status: 404, code: "InvalidAccessKeyId.NotFound"},
		{name: "sts key without token", ak: stsAK, sk: stsSK, call: video("t", "a.mp4"), status: 400, code: "MissingSecurityToken"},
		{name: "sts key wrong token", ak: stsAK, sk: stsSK, token: "CAISwrong", call: video("t", "a.mp4"), status: 400, code: "InvalidSecurityToken.MismatchWithAccessKey"},
		{name: "token on static key", ak: staticAK, sk: staticSK, token: stsToken, call: video("t", "a.mp4"), status: 400, code: "InvalidSecurityToken.MismatchWithAccessKey"},
		{name: "client clock 20m behind", setup: func(e *env) { e.clock.Advance(20 * time.Minute) }, call: video("t", "a.mp4"), status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "client clock 20m ahead", setup: func(e *env) { e.clock.Advance(-20 * time.Minute) }, call: video("t", "a.mp4"), status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "missing title", call: video("", "a.mp4"), status: 400, code: "MissingTitle", msg: "Title is mandatory for this action."},
		{name: "missing file name", call: video("t", ""), status: 400, code: "MissingFileName"},
		{name: "bad extension", call: video("t", "notes.txt"), status: 400, code: "InvalidFileName.Extension"},
		{name: "no extension", call: video("t", "movie"), status: 400, code: "InvalidFileName.Extension"},
		{name: "title too long", call: video(strings.Repeat("x", 129), "a.mp4"), status: 400, code: "LengthExceededMax"},
		{name: "emoji title", call: video("fun 😀", "a.mp4"), status: 400, code: "IllegalCharacters"},
		{name: "too many tags", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), Tags: tea.String(manyTags)}), status: 400, code: "TagsExceededMax"},
		{name: "tag too long", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), Tags: tea.String(strings.Repeat("x", 33))}), status: 400, code: "LengthExceededMax"},
		{name: "description too long", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), Description: tea.String(strings.Repeat("d", 1025))}), status: 400, code: "LengthExceededMax"},
		{name: "user data not json", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), UserData: tea.String("{nope")}), status: 400, code: "InvalidUserData"},
		{name: "unknown storage", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), StorageLocation: tea.String("outin-0.oss-cn-shanghai.aliyuncs.com")}), status: 404, code: "InvalidStorage.NotFound"},
		{name: "unknown template group", call: videoReq(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4"), TemplateGroupId: tea.String("tg-1")}), status: 404, code: "InvalidTemplateGroupId.NotFound"},
		{name: "refresh unknown video", call: func(c *vod.Client) error {
			_, err := c.RefreshUploadVideo(&vod.RefreshUploadVideoRequest{VideoId: tea.String("0123456789abcdef0123456789abcdef")})
			return err
		}, status: 404, code: "InvalidVideo.NotFound", msg: "The video not exist."},
		{name: "info unknown video", call: func(c *vod.Client) error {
			_, err := c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String("nope")})
			return err
		}, status: 404, code: "InvalidVideo.NotFound"},
		{name: "image type missing", call: func(c *vod.Client) error {
			_, err := c.CreateUploadImage(&vod.CreateUploadImageRequest{})
			return err
		}, status: 400, code: "MissingImageType"},
		{name: "image ext bad", call: func(c *vod.Client) error {
			_, err := c.CreateUploadImage(&vod.CreateUploadImageRequest{ImageType: tea.String("cover"), ImageExt: tea.String("bmp")})
			return err
		}, status: 400, code: "InvalidImageExt"},
		{name: "subtitle with png", call: func(c *vod.Client) error {
			_, err := c.CreateUploadAttachedMedia(&vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("subtitle"), MediaExt: tea.String("png")})
			return err
		}, status: 400, code: "InvalidMediaExt"},
		{name: "multipart delete of image type", call: func(c *vod.Client) error {
			_, err := c.DeleteMultipartUpload(&vod.DeleteMultipartUploadRequest{MediaId: tea.String("x"), MediaType: tea.String("image")})
			return err
		}, status: 400, code: "InvalidMediaType"},
		{name: "throttled", setup: func(e *env) { e.vod.FailNext("CreateUploadVideo", 1, 400, "Throttling.User") }, call: video("t", "a.mp4"), status: 400, code: "Throttling.User"},
		{name: "unavailable", setup: func(e *env) { e.vod.FailNext("*", 1, 503, "ServiceUnavailable") }, call: video("t", "a.mp4"), status: 503, code: "ServiceUnavailable"},
		{name: "internal error", setup: func(e *env) { e.vod.FailNext("CreateUploadVideo", 2, 500, "InternalError") }, call: video("t", "a.mp4"), status: 500, code: "InternalError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tc.setup != nil {
				tc.setup(e)
			}
			ak, sk := tc.ak, tc.sk
			if ak == "" {
				ak, sk = staticAK, staticSK
			}
			c := e.client(t, ak, sk, tc.token)
			if tc.rpc {
				c.SignatureAlgorithm = tea.String("v2")
			}
			err := tc.call(c)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			se := sdkError(t, err)
			if got := tea.IntValue(se.StatusCode); got != tc.status || tea.StringValue(se.Code) != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", got, tea.StringValue(se.Code), tea.StringValue(se.Message), tc.status, tc.code)
			}
			if tc.msg != "" && !strings.Contains(tea.StringValue(se.Message), tc.msg) {
				t.Errorf("message %q does not contain %q", tea.StringValue(se.Message), tc.msg)
			}
			calls := e.vod.Calls()
			if last := calls[len(calls)-1]; last.Status != tc.status || last.Code != tc.code {
				t.Errorf("recorded call %+v", last)
			}
		})
	}
}

func TestFailNextCountsDown(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	e.vod.FailNext("CreateUploadVideo", 2, 500, "InternalError")
	for i, want := range []string{"InternalError", "InternalError", ""} {
		_, err := c.CreateUploadVideo(&vod.CreateUploadVideoRequest{Title: tea.String("t"), FileName: tea.String("a.mp4")})
		got := ""
		if err != nil {
			got = tea.StringValue(sdkError(t, err).Code)
		}
		if got != want {
			t.Fatalf("call %d: code %q, want %q", i, got, want)
		}
	}
}

// TestRawErrorBody checks the exact wire shape of an error, without the SDK.
func TestRawErrorBody(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Post("http://"+e.vod.Endpoint()+"/?Action=CreateUploadVideo", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json;charset=utf-8" ||
		body["Code"] != "IncompleteSignature" || body["HostId"] != "vod.cn-shanghai.aliyuncs.com" || body["RequestId"] == "" || body["Message"] == "" {
		t.Errorf("%d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// viaProxy returns an SDK client whose requests pass through a forwarding proxy that keeps the
// Host header (so the signature stays valid), lets mutate change each forwarded copy, and sends
// every request copies times, answering with the last response.
func viaProxy(t *testing.T, e *env, copies int, mutate func(*http.Request, *[]byte)) *vod.Client {
	t.Helper()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var last *http.Response
		for range copies {
			b := append([]byte(nil), body...)
			out, _ := http.NewRequest(r.Method, "http://"+e.vod.Endpoint()+r.URL.RequestURI(), nil)
			out.Header = r.Header.Clone()
			out.Host = r.Host
			if mutate != nil {
				mutate(out, &b)
			}
			out.Body = io.NopCloser(bytes.NewReader(b))
			out.ContentLength = int64(len(b))
			resp, err := http.DefaultClient.Do(out)
			if err != nil {
				t.Errorf("forward: %v", err)
				return
			}
			if last != nil {
				last.Body.Close()
			}
			last = resp
		}
		defer last.Body.Close()
		w.Header().Set("Content-Type", last.Header.Get("Content-Type"))
		w.WriteHeader(last.StatusCode)
		_, _ = io.Copy(w, last.Body)
	}))
	t.Cleanup(proxy.Close)
	u, _ := url.Parse(proxy.URL)
	c, err := vod.NewClient(&openapi.Config{Endpoint: tea.String(u.Host), Protocol: tea.String("http"),
		AccessKeyId: tea.String(staticAK), AccessKeySecret: tea.String(staticSK)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTamperedRequests changes signed parts of real SDK requests in transit.
func TestTamperedRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		copies int
		mutate func(*http.Request, *[]byte)
		code   string
	}{
		{"replayed nonce", 2, nil, "SignatureNonceUsed"},
		{"query value changed", 1, func(r *http.Request, _ *[]byte) {
			q := r.URL.Query()
			q.Set("Title", "other")
			r.URL.RawQuery = q.Encode()
		}, "SignatureDoesNotMatch"},
		{"query parameter added", 1, func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&Tags=x" }, "SignatureDoesNotMatch"},
		{"signed header changed", 1, func(r *http.Request, _ *[]byte) { r.Header.Set("x-acs-signature-nonce", "other") }, "SignatureDoesNotMatch"},
		{"host changed", 1, func(r *http.Request, _ *[]byte) { r.Host = "127.0.0.1:1" }, "SignatureDoesNotMatch"},
		{"unsigned x-acs header", 1, func(r *http.Request, _ *[]byte) { r.Header.Set("x-acs-extra", "1") }, "IncompleteSignature"},
		{"body added", 1, func(r *http.Request, b *[]byte) {
			*b = []byte("Tags=x")
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := viaProxy(t, e, tc.copies, tc.mutate)
			_, err := c.CreateUploadVideo(&vod.CreateUploadVideoRequest{Title: tea.String("t t"), FileName: tea.String("a.mp4")})
			if err == nil {
				t.Fatal("tampered request accepted")
			}
			if se := sdkError(t, err); tea.StringValue(se.Code) != tc.code {
				t.Fatalf("got %s (%s), want %s", tea.StringValue(se.Code), tea.StringValue(se.Message), tc.code)
			}
			if n := len(e.vod.AllMedia()); n != tc.copies-1 {
				t.Errorf("%d media created, want %d", n, tc.copies-1)
			}
		})
	}
}

func TestCanonicalEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   map[string][]string
		want string
	}{
		{map[string][]string{"Title": {"a b"}}, "Title=a%20b"},
		{map[string][]string{"x": {"*~+/"}}, "x=%2A~%2B%2F"},
		{map[string][]string{"b": {"2"}, "a": {"1"}, "a-b": {"3"}}, "a=1&a-b=3&b=2"},
		{map[string][]string{"k": {""}}, "k="},
		{map[string][]string{"t": {"标"}}, "t=%E6%A0%87"},
	} {
		if got := canonicalQuery(tc.in); got != tc.want {
			t.Errorf("canonicalQuery(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
