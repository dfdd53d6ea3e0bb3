package tusstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

type classErr struct{ notFound, fenced, temporary bool }

func (e classErr) Error() string   { return "record error" }
func (e classErr) NotFound() bool  { return e.notFound }
func (e classErr) Fenced() bool    { return e.fenced }
func (e classErr) Temporary() bool { return e.temporary }
func (e classErr) Exists() bool    { return false }

func TestTusError(t *testing.T) {
	s := &Store{log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics()}
	wrap := func(err error) error { return fmt.Errorf("tusstore: op: %w", err) }
	for _, tc := range []struct {
		name   string
		err    error
		status int // 0: not a tus error (tusd answers 500)
		code   string
	}{
		{"tus error passes through", handler.ErrNotFound, 404, "ERR_UPLOAD_NOT_FOUND"},
		{"buffer budget", wrap(errBusy), 503, "ERR_BUSY"},
		{"lock lost", wrap(errLockLost), 423, "ERR_LOCK_LOST"},
		{"fenced record write", wrap(classErr{fenced: true}), 423, "ERR_LOCK_LOST"},
		{"record missing", wrap(classErr{notFound: true}), 404, "ERR_UPLOAD_NOT_FOUND"},
		{"redis down", wrap(classErr{temporary: true}), 503, "ERR_STATE_UNAVAILABLE"},
		{"length too large", errTooLarge, 413, "ERR_MAX_SIZE_EXCEEDED"},
		{"checksum mismatch", wrap(errCorrupt), 500, "ERR_CHECKSUM_MISMATCH"},
		{"other vod api error", wrap(&vodbridge.APIError{Code: "InternalError", Status: 500}), 503, "ERR_VOD_UNAVAILABLE"},
		{"vod throttled sentinel", wrap(vodbridge.ErrThrottled), 503, "ERR_VOD_THROTTLED"},
		{"vod auth", wrap(vodbridge.ErrAuth), 502, "ERR_VOD_AUTH"},
		{"vod invalid before send", wrap(vodbridge.ErrInvalidArgument), 400, "ERR_VOD_REJECTED"},
		{"oss no such upload", wrap(oss.ServiceError{Code: "NoSuchUpload", StatusCode: 404}), 410, "ERR_UPLOAD_GONE"},
		{"oss token expired after refresh", wrap(oss.ServiceError{Code: "SecurityTokenExpired", StatusCode: 403}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss 5xx", wrap(oss.ServiceError{Code: "InternalError", StatusCode: 500}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss access denied", wrap(oss.ServiceError{Code: "AccessDenied", StatusCode: 403, RequestID: "REQ1"}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss signature mismatch", wrap(oss.ServiceError{Code: "SignatureDoesNotMatch", StatusCode: 403, RequestID: "REQ1"}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss invalid access key", wrap(oss.ServiceError{Code: "InvalidAccessKeyId", StatusCode: 403}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss invalid token", wrap(oss.ServiceError{Code: "InvalidSecurityToken", StatusCode: 403}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss service unavailable", wrap(oss.ServiceError{Code: "ServiceUnavailable", StatusCode: 503}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss throttled", wrap(oss.ServiceError{Code: "TooManyRequests", StatusCode: 429}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"oss invalid part", wrap(oss.ServiceError{Code: "InvalidPart", StatusCode: 400, RequestID: "REQ1"}), 502, "ERR_STORAGE_REJECTED"},
		{"oss invalid part order", wrap(oss.ServiceError{Code: "InvalidPartOrder", StatusCode: 400}), 502, "ERR_STORAGE_REJECTED"},
		{"oss entity too small", wrap(oss.ServiceError{Code: "EntityTooSmall", StatusCode: 400}), 502, "ERR_STORAGE_REJECTED"},
		{"oss invalid argument", wrap(oss.ServiceError{Code: "InvalidArgument", StatusCode: 400}), 502, "ERR_STORAGE_REJECTED"},
		{"oss bad digest", wrap(oss.ServiceError{Code: "InvalidDigest", StatusCode: 400}), 502, "ERR_STORAGE_REJECTED"},
		{"oss unexpected status", wrap(oss.UnexpectedStatusCodeError{}), 500, "ERR_INTERNAL_SERVER_ERROR"},
		{"vod rejected", fmt.Errorf("%w: %w", &vodbridge.APIError{Code: "IllegalCharacters", Message: "The Title contains illegal characters. RequestId: REQ1", Status: 400}, vodbridge.ErrInvalidArgument), 400, "ERR_VOD_REJECTED"},
		{"vod media gone", fmt.Errorf("%w: %w", &vodbridge.APIError{Code: "InvalidVideo.NotFound", Message: "RequestId: REQ1", Status: 404}, vodbridge.ErrNotFound), 400, "ERR_VOD_REJECTED"},
		{"network", wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), 503, "ERR_STORAGE_UNAVAILABLE"},
		{"cancelled", wrap(context.Canceled), 0, ""},
		{"unknown", errors.New("oss: service returned error: StatusCode=403, RequestId=REQ1"), 500, "ERR_INTERNAL_SERVER_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.tusError("op", tc.err)
			var he handler.Error
			if !errors.As(err, &he) {
				if tc.status != 0 {
					t.Fatalf("got %v, want %d %s", err, tc.status, tc.code)
				}
				return
			}
			if he.HTTPResponse.StatusCode != tc.status || he.ErrorCode != tc.code {
				t.Fatalf("got %d %s, want %d %s", he.HTTPResponse.StatusCode, he.ErrorCode, tc.status, tc.code)
			}
			for _, leak := range []string{"REQ1", "RequestId", "StatusCode", "oss:", "illegal characters", "service returned"} {
				if strings.Contains(he.Message, leak) || strings.Contains(he.HTTPResponse.Body, leak) {
					t.Errorf("client message %q leaks %q", he.HTTPResponse.Body, leak)
				}
			}
			if tc.status == 503 && he.HTTPResponse.Header["Retry-After"] == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}

func TestLocalHost(t *testing.T) {
	for ep, want := range map[string]bool{
		"http://localhost:9080": true, "localhost:9080": true, "https://oss.localhost": true,
		"http://127.0.0.1:9080": false, "https://oss-cn-shanghai.aliyuncs.com": false, "oss-cn-shanghai.aliyuncs.com": false,
	} {
		if got := localHost(ep); got != want {
			t.Errorf("localHost(%q) = %v, want %v", ep, got, want)
		}
	}
}
