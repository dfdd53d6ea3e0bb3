package osstest

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
)

// ErrNoSuchKey is returned (wrapped) by [Server.ReadObject] for a missing object.
var ErrNoSuchKey = errors.New("osstest: no such object")

// ossError is one OSS error response: status, <Code>, <Message>, <EC> and
// op-specific extra elements, in order.
type ossError struct {
	status int
	code   string
	msg    string
	ec     string
	extra  []field
}

type field struct{ name, value string }

func (e *ossError) Error() string { return "osstest: " + e.code + ": " + e.msg }

func (e *ossError) with(name, value string) *ossError {
	e.extra = append(e.extra, field{name, value})
	return e
}

func newErr(status int, code, msg, ec string) *ossError {
	return &ossError{status: status, code: code, msg: msg, ec: ec}
}

// Error constructors. Messages follow the OSS texts; EC values are those the
// OSS docs list for each case ("" where unknown).

func errAccessDenied(msg, ec string) *ossError { return newErr(403, "AccessDenied", msg, ec) }

func errInvalidArgument(msg, name, value string) *ossError {
	e := newErr(400, "InvalidArgument", msg, "")
	if name != "" {
		e.with("ArgumentName", name).with("ArgumentValue", value)
	}
	return e
}

func errNoSuchUpload(id string) *ossError {
	return newErr(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "+
		"or the upload may have been aborted or completed.", "0017-00000244").with("UploadId", id)
}

func errNoSuchKey(key string) *ossError {
	return newErr(404, "NoSuchKey", "The specified key does not exist.", "0026-00000001").with("Key", key)
}

func errPartNumber(v string) *ossError {
	return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive.", "partNumber", v)
}

func errMalformedXML() *ossError {
	return newErr(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", "")
}

func errNotImplemented() *ossError {
	return newErr(501, "NotImplemented", "The simulator does not implement this operation.", "")
}

func errInternal(msg string) *ossError {
	return newErr(500, "InternalError", "We encountered an internal error. Please try again. ("+msg+")", "")
}

// injectedMessage gives a FailNext fault the real OSS message for well-known codes.
func injectedMessage(code string) string {
	switch code {
	case "InternalError":
		return "We encountered an internal error. Please try again."
	case "ServiceUnavailable":
		return "Please reduce your request rate."
	case "SecurityTokenExpired":
		return "The security token you provided has expired."
	case "InvalidAccessKeyId":
		return "The OSS Access Key Id you provided does not exist in our records."
	case "RequestTimeout":
		return "Your socket connection to the server was not read from or written to within the timeout period."
	case "NoSuchUpload":
		return "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
	}
	return "Injected fault (osstest)."
}

// xmlBody renders the <Error> document.
func (e *ossError) xmlBody(reqID, hostID string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>\n")
	writeElem(&b, "Code", e.code)
	writeElem(&b, "Message", e.msg)
	writeElem(&b, "RequestId", reqID)
	writeElem(&b, "HostId", hostID)
	for _, f := range e.extra {
		writeElem(&b, f.name, f.value)
	}
	if e.ec != "" {
		writeElem(&b, "EC", e.ec)
		writeElem(&b, "RecommendDoc", "https://api.aliyun.com/troubleshoot?q="+e.ec)
	}
	b.WriteString("</Error>\n")
	return b.Bytes()
}

func writeElem(b *bytes.Buffer, name, value string) {
	b.WriteString("  <" + name + ">")
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("</" + name + ">\n")
}

// writeError sends e. HEAD responses carry no body: the XML goes base64-encoded
// in x-oss-err, as real OSS does.
func writeError(w http.ResponseWriter, r *http.Request, reqID string, e *ossError) {
	body := e.xmlBody(reqID, r.Host)
	h := w.Header()
	if e.ec != "" {
		h.Set("x-oss-ec", e.ec)
	}
	h.Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		h.Set("Content-Length", "0")
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
