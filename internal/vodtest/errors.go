package vodtest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error codes, statuses and messages.
//
// The gateway-wide (POP) codes come from the public "管控OpenAPI的客户端公用错误码" list
// (https://developer.aliyun.com/ask/278265): InvalidAccessKeyId.NotFound 404 "Specified access key is
// not found.", SignatureDoesNotMatch 400 "Specified signature is not matched with our calculation.",
// InvalidTimeStamp.Expired 400 "Specified time stamp or date value is expired.", InvalidTimeStamp.Format
// 400, SignatureNonceUsed 400, Missing{Param} 400 "{Param} is mandatory for this action.",
// Invalid{Param} 400 "Specified parameter {Param} is not valid.", InvalidApi.NotFound 404,
// Throttling.User 400 "Request was denied due to user flow control.". A real SDK trace agrees on
// InvalidAccessKeyId.NotFound being 404 (github.com/XWJR-Ops/zabbix-RDS-monitor#9). IncompleteSignature
// 400 comes from help.aliyun.com/document_detail/51132.html. MissingSecurityToken 400 "SecurityToken is
// mandatory for this action." is what VOD itself answered to an STS AK without a token
// (github.com/aliyun/aliyun-openapi-python-sdk#292). InternalError 500 / ServiceUnavailable 503 are the
// common server errors (help.aliyun.com/document_detail/435312.html). Some older product pages list
// SignatureDoesNotMatch as 403 and InvalidAccessKeyId.NotFound as 400; the 400/404 pair above is the
// POP gateway list and what SDK traces show.
//
// Not confirmed anywhere I could read (kept because the shape matches the POP naming scheme):
// InvalidSecurityToken.MismatchWithAccessKey 400 for a wrong token, and the exact messages of the VOD
// business errors below other than InvalidVideo.NotFound ("The video not exist.").
const (
	codeSignatureMismatch   = "SignatureDoesNotMatch"
	codeIncompleteSignature = "IncompleteSignature"
	codeAKNotFound          = "InvalidAccessKeyId.NotFound"
	codeMissingToken        = "MissingSecurityToken"
	codeTokenMismatch       = "InvalidSecurityToken.MismatchWithAccessKey"
	codeTimeExpired         = "InvalidTimeStamp.Expired"
	codeTimeFormat          = "InvalidTimeStamp.Format"
	codeNonceUsed           = "SignatureNonceUsed"
	codeAPINotFound         = "InvalidApi.NotFound"
	codeBadMethod           = "UnsupportedHTTPMethod"
	codeThrottlingUser      = "Throttling.User"
	codeInternalError       = "InternalError"
	codeServiceUnavailable  = "ServiceUnavailable"
	codeForbidden           = "Forbidden"

	codeBadExtension     = "InvalidFileName.Extension"
	codeIllegalChars     = "IllegalCharacters"
	codeLengthExceeded   = "LengthExceededMax"
	codeTagsExceeded     = "TagsExceededMax"
	codeTemplateNotFound = "InvalidTemplateGroupId.NotFound"
	codeStorageNotFound  = "InvalidStorage.NotFound"
	codeVideoNotFound    = "InvalidVideo.NotFound"
	codeImageNotFound    = "InvalidImageId.NotFound"
)

// apiError is an error answer: HTTP status plus the Code/Message of the JSON body.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("vodtest: %d %s: %s", e.Status, e.Code, e.Message)
}

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errMissing(param string) *apiError {
	return newError(http.StatusBadRequest, "Missing"+param, "%s is mandatory for this action.", param)
}

func errInvalid(param string) *apiError {
	return newError(http.StatusBadRequest, "Invalid"+param, "Specified parameter %s is not valid.", param)
}

func errVideoNotFound() *apiError {
	return newError(http.StatusNotFound, codeVideoNotFound, "The video not exist.")
}

// defaultMessage gives a plausible message for a code injected with FailNext.
func defaultMessage(code string) string {
	switch code {
	case codeThrottlingUser:
		return "Request was denied due to user flow control."
	case "Throttling", "Throttling.Api":
		return "Request was denied due to request throttling."
	case codeInternalError:
		return "The request processing has failed due to some unknown error, exception or failure."
	case codeServiceUnavailable:
		return "The request has failed due to a temporary failure of the server."
	default:
		return "Injected failure: " + code
	}
}

// errorBody is the JSON error document VOD returns.
type errorBody struct {
	RequestId string
	HostId    string
	Code      string
	Message   string
}

// writeJSON writes v with the Content-Type VOD uses and the request id header.
func writeJSON(w http.ResponseWriter, status int, requestID string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"Code":"InternalError","Message":"vodtest: encode response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("x-acs-request-id", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
