package vodbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/alibabacloud-go/tea/tea"
)

// Sentinel errors. Every [*APIError] unwraps to at most one of them; use
// [errors.Is] on any error returned by a [Client] method. They are never
// returned bare, so their texts carry no package prefix.
var (
	// ErrThrottled: VOD refused the call because of rate limiting
	// (Throttling, Throttling.User, Throttling.Api, ServiceUnavailable, HTTP 429).
	// The call had no effect; it is safe to try again later.
	ErrThrottled = errors.New("throttled by vod")
	// ErrNotFound: the media (or a resource named in the request, such as a
	// template group or storage location) does not exist: InvalidVideo.NotFound,
	// any *.NotFound code, HTTP 404, or an ID that Delete* reports as non-existent.
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument: VOD (or vodbridge before sending) rejected the request
	// parameters: InvalidFileName.Extension, LengthExceededMax, TagsExceededMax,
	// Missing*, IllegalCharacters, any other HTTP 400. Retrying cannot help.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrAuth: the gateway's own AccessKey was rejected or lacks permission:
	// SignatureDoesNotMatch, InvalidAccessKeyId*, InvalidSecurityToken*,
	// MissingSecurityToken, InvalidTimeStamp* (clock skew), Forbidden*, HTTP 401/403, or an ID that Delete* reports as forbidden.
	ErrAuth = errors.New("vod authentication or permission failure")
	// ErrServer: VOD answered with a 5xx other than ServiceUnavailable. Retried.
	ErrServer = errors.New("vod server error")
	// ErrBadResponse: a successful VOD response could not be understood, for
	// example an UploadAuth that is not base64 JSON or lacks an AccessKeyId.
	ErrBadResponse = errors.New("malformed vod response")
)

// APIError is an error answer from the VOD API (translated from the SDK's
// *tea.SDKError). Unwrap returns the matching sentinel (ErrThrottled,
// ErrNotFound, ErrInvalidArgument, ErrAuth, ErrServer) or nil when the code is
// not classified. APIError never carries request parameters or credentials.
type APIError struct {
	Op        string // VOD action, e.g. "CreateUploadVideo"
	Code      string // VOD error code, e.g. "InvalidVideo.NotFound"
	Message   string // VOD's message, without the SDK's "code: N," decoration
	RequestID string // VOD RequestId, for support tickets
	Status    int    // HTTP status; 0 if the SDK failed before a response
	Attempts  int    // attempts made, including this one (>= 1)
	sentinel  error
}

// Error returns a single-line description.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vodbridge: %s: %s", e.Op, e.Code)
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	fmt.Fprintf(&b, " (status %d", e.Status)
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request id %s", e.RequestID)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, ", after %d attempts", e.Attempts)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the sentinel that classifies e, or nil.
func (e *APIError) Unwrap() error { return e.sentinel }

// translate turns an error returned by the SDK into an *APIError when it is a
// VOD error answer; any other error (network, context) is returned unchanged.
func translate(op string, err error) error {
	var sdk *tea.SDKError
	if !errors.As(err, &sdk) {
		return err
	}
	e := &APIError{Op: op, Code: tea.StringValue(sdk.Code), Status: tea.IntValue(sdk.StatusCode), Attempts: 1}
	var data map[string]any
	if d := tea.StringValue(sdk.Data); d != "" && json.Unmarshal([]byte(d), &data) == nil {
		e.RequestID = firstString(data, "RequestId", "requestId")
		e.Message = firstString(data, "Message", "message")
	}
	if e.Message == "" {
		e.Message = stripSDKMessage(tea.StringValue(sdk.Message))
	}
	e.Message = oneLine(e.Message)
	e.sentinel = classify(e.Code, e.Status)
	return e
}

// classify maps a VOD error code and HTTP status to a sentinel. Order matters:
// "InvalidAccessKeyId.NotFound" is an auth failure, not a missing media.
func classify(code string, status int) error {
	switch {
	case strings.HasPrefix(code, "Throttling"), code == "ServiceUnavailable", status == 429:
		return ErrThrottled
	case code == "SignatureDoesNotMatch", code == "IncompleteSignature", code == "SignatureNonceUsed",
		code == "NoPermission", code == "InvalidCredentials", code == "MissingSecurityToken",
		strings.HasPrefix(code, "InvalidAccessKeyId"), strings.HasPrefix(code, "InvalidSecurityToken"),
		strings.HasPrefix(code, "InvalidTimeStamp"), strings.HasPrefix(code, "Forbidden"),
		status == 401, status == 403:
		return ErrAuth
	case code == "NotFound", strings.HasSuffix(code, ".NotFound"), status == 404:
		return ErrNotFound
	case status >= 500:
		return ErrServer
	case status == 400, strings.HasPrefix(code, "Missing"), strings.HasPrefix(code, "InvalidParameter"),
		code == "IllegalCharacters", code == "LengthExceededMax", code == "TagsExceededMax",
		strings.HasPrefix(code, "InvalidFileName"):
		return ErrInvalidArgument
	}
	return nil
}

// shouldRetry reports whether a failed attempt (error already translated)
// may be repeated. Throttling and 5xx answers are always retried: VOD
// reports that the call failed. Transport failures and attempt timeouts are
// retried for idempotent calls; for non-idempotent ones (Create*) only when
// the request provably never left this host (see [notSent]), because a
// request that reached VOD may have created a media whose answer was lost.
func shouldRetry(err error, idempotent bool) bool {
	switch {
	case errors.Is(err, ErrThrottled), errors.Is(err, ErrServer):
		return true
	case !isNetworkError(err):
		return false
	case idempotent:
		return true
	default:
		return notSent(err)
	}
}

// isNetworkError reports whether err is a transport failure or an attempt
// timeout rather than an answer from VOD. net/http reports every transport
// failure as a *url.Error, which implements net.Error.
func isNetworkError(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// notSent reports whether err proves the request never left this host:
// a DNS failure or a failed TCP dial (connection refused, unreachable).
func notSent(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// stripSDKMessage removes the SDK's "code: 404, " prefix and " request id: X"
// suffix from a tea.SDKError message.
func stripSDKMessage(m string) string {
	if strings.HasPrefix(m, "code: ") {
		if i := strings.Index(m, ", "); i > 0 {
			m = m[i+2:]
		}
	}
	if i := strings.LastIndex(m, " request id: "); i >= 0 {
		m = m[:i]
	}
	return m
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
