package vodbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{"Throttling", 400, ErrThrottled},
		{"Throttling.User", 400, ErrThrottled},
		{"Throttling.Api", 503, ErrThrottled},
		{"ServiceUnavailable", 503, ErrThrottled},
		{"Whatever", 429, ErrThrottled},
		{"InvalidVideo.NotFound", 404, ErrNotFound},
		{"InvalidTemplateGroupId.NotFound", 404, ErrNotFound},
		{"InvalidStorage.NotFound", 400, ErrNotFound},
		{"Gone", 404, ErrNotFound},
		{"InvalidFileName.Extension", 400, ErrInvalidArgument},
		{"LengthExceededMax", 400, ErrInvalidArgument},
		{"TagsExceededMax", 400, ErrInvalidArgument},
		{"MissingTitle", 400, ErrInvalidArgument},
		{"IllegalCharacters", 400, ErrInvalidArgument},
		{"InvalidVideo.Damaged", 400, ErrInvalidArgument},
		{"SignatureDoesNotMatch", 400, ErrAuth},
		{"InvalidAccessKeyId.NotFound", 404, ErrAuth},
		{"InvalidAccessKeyId.Inactive", 400, ErrAuth},
		{"InvalidSecurityToken.Expired", 400, ErrAuth},
		{"Forbidden.RAM", 403, ErrAuth},
		{"MissingSecurityToken", 400, ErrAuth},
		{"InvalidTimeStamp.Expired", 400, ErrAuth},
		{"Forbidden.InitFailed", 400, ErrAuth},
		{"Anything", 403, ErrAuth},
		{"InternalError", 500, ErrServer},
		{"BadGateway", 502, ErrServer},
		{"Conflict", 409, nil},
	} {
		t.Run(fmt.Sprintf("%s_%d", tc.code, tc.status), func(t *testing.T) {
			if got := classify(tc.code, tc.status); got != tc.want {
				t.Errorf("classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTranslateSDKError(t *testing.T) {
	sdkErr := tea.NewSDKError(map[string]any{
		"code":       "InvalidVideo.NotFound",
		"statusCode": 404,
		"message":    "code: 404, The video not exist. request id: RID-1",
		"data": map[string]any{
			"RequestId": "RID-1", "HostId": "vod.cn-shanghai.aliyuncs.com",
			"Code": "InvalidVideo.NotFound", "Message": "The video not exist.", "statusCode": 404,
		},
	})
	err := translate("RefreshUploadVideo", sdkErr)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("translate = %T %v", err, err)
	}
	want := APIError{Op: "RefreshUploadVideo", Code: "InvalidVideo.NotFound", Message: "The video not exist.", RequestID: "RID-1", Status: 404, Attempts: 1}
	ae.sentinel = nil
	if *ae != want {
		t.Errorf("got %+v\nwant %+v", *ae, want)
	}
	if !errors.Is(translate("x", sdkErr), ErrNotFound) {
		t.Errorf("not ErrNotFound")
	}
	// Without Data, the message is recovered from the SDK's decorated text.
	bare := tea.NewSDKError(map[string]any{"code": "Throttling.User", "statusCode": 400,
		"message": "code: 400, Request was denied due to user flow control. request id: R2"})
	err = translate("CreateUploadVideo", bare)
	if !errors.As(err, &ae) || ae.Message != "Request was denied due to user flow control." || !errors.Is(err, ErrThrottled) {
		t.Errorf("got %#v", err)
	}
	if s := err.Error(); strings.Contains(s, "\n") || !strings.HasPrefix(s, "vodbridge: CreateUploadVideo: Throttling.User") {
		t.Errorf("Error() = %q", s)
	}
	// Non-SDK errors pass through untouched.
	if got := translate("x", io.EOF); got != io.EOF {
		t.Errorf("translate(io.EOF) = %v", got)
	}
}

func TestShouldRetry(t *testing.T) {
	dial := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	read := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}
	dns := &url.Error{Op: "Post", URL: "http://x", Err: &net.DNSError{Err: "no such host", Name: "vod.invalid"}}
	eof := &url.Error{Op: "Post", URL: "http://x", Err: io.EOF}
	api := func(s error) error { return &APIError{sentinel: s} }
	for _, tc := range []struct {
		name             string
		err              error
		idempotent, want bool
	}{
		{"throttled create", api(ErrThrottled), false, true},
		{"5xx create", api(ErrServer), false, true},
		{"invalid", api(ErrInvalidArgument), true, false},
		{"not found", api(ErrNotFound), true, false},
		{"auth", api(ErrAuth), true, false},
		{"unclassified", api(nil), true, false},
		{"dial refused create", dial, false, true},
		{"dns create", dns, false, true},
		{"reset create", read, false, false},
		{"reset refresh", read, true, true},
		{"eof create", eof, false, false},
		{"eof refresh", eof, true, true},
		{"timeout create", context.DeadlineExceeded, false, false},
		{"timeout refresh", context.DeadlineExceeded, true, true},
		{"canceled", context.Canceled, true, false},
		{"bad response", fmt.Errorf("x: %w", ErrBadResponse), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shouldRetry(tc.err, tc.idempotent); got != tc.want {
				t.Errorf("shouldRetry = %v, want %v", got, tc.want)
			}
		})
	}
}
