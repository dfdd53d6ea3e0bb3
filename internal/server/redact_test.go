package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	expslog "golang.org/x/exp/slog"
)

const (
	testAKSecret = "Xk9fPq2LmN7rTs4VwY1zAb3Cd5Ef6G" // 30 chars, mixed: AccessKeySecret shape
	testJWT      = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	testSTS      = "CAISzQJ1q6Ft5B2yfSjIr5bkGcjRg+9W0fu5IVLZl3R1adB2gbbLkTz2IHhMe3lqAuEdsv8xnWhX6fgclqF0R4QAXlrp3XRoQn"
	testAuth     = "eyJTZWN1cml0eVRva2VuIjoiQ0FJUzEyMyIsIkFjY2Vzc0tleUlkIjoiU1RTLmFiYyJ9"
)

type stringer string

func (s stringer) String() string { return string(s) }

type secretValuer struct{ secret string }

func (v secretValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", "STS.abc"), slog.String("accessKeySecret", v.secret))
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		attr    slog.Attr
		want    string // substring of the JSON line
		notWant string
	}{
		{"secret key", slog.String("AccessKeySecret", "plainvalue"), `"AccessKeySecret":"[REDACTED]"`, "plainvalue"},
		{"token key", slog.String("security-token", "abc"), `"security-token":"[REDACTED]"`, `"abc"`},
		{"authorization", slog.String("Authorization", "OSS STS.x:sig"), `"[REDACTED]"`, "STS.x:sig"},
		{"upload-auth", slog.String("upload_auth", "whatever"), `"upload_auth":"[REDACTED]"`, "whatever"},
		{"password", slog.String("redisPassword", "hunter2"), `"[REDACTED]"`, "hunter2"},
		{"empty secret stays empty", slog.String("secret", ""), `"secret":""`, "[REDACTED]"},
		{"numeric token kept", slog.Int64("token", 42), `"token":42`, "[REDACTED]"},
		{"jwt in value", slog.String("header", "Bearer "+testJWT), `"header":"Bearer [REDACTED]"`, "eyJhbGci"},
		{"upload auth shape", slog.String("body", "UploadAuth="+testAuth), `[REDACTED]`, "eyJTZWN1"},
		{"sts token shape", slog.String("msg", "token "+testSTS+" expired"), `[REDACTED] expired`, "CAISzQJ"},
		{"ak secret shape", slog.String("msg", "using "+testAKSecret), `"using [REDACTED]"`, testAKSecret},
		{"hex id kept", slog.String("uploadId", "0004B9894A22E5B1888A1E29F8236E2D"), "0004B9894A22E5B1888A1E29F8236E2D", "[REDACTED]"},
		{"url signature", slog.String("url", "http://b.oss/k?OSSAccessKeyId=STS.a&Signature=abc%2Fdef&security-token=xyz"),
			"Signature=[REDACTED]", "abc%2Fdef"},
		{"error value", slog.Any("error", fmt.Errorf("oss: put: %w", errors.New("token "+testSTS))), `"error":"oss: put: token [REDACTED]"`, "CAISzQJ"},
		{"stringer value", slog.Any("thing", stringer("jwt "+testJWT)), `"thing":"jwt [REDACTED]"`, "eyJhbGci"},
		{"log valuer", slog.Any("cred", secretValuer{testAKSecret}), `"accessKeySecret":"[REDACTED]"`, testAKSecret},
		{"group under sensitive key", slog.Group("credentials", slog.String("id", "x")), `"id":"[REDACTED]"`, `"id":"x"`},
		{"string map", slog.Any("params", map[string]string{"SecurityToken": "s3cr3t", "Title": "t"}), `"Title":"t"`, "s3cr3t"},
		{"plain value kept", slog.String("filename", "holiday.mp4"), `"filename":"holiday.mp4"`, "[REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(Redact(slog.NewJSONHandler(&buf, nil)))
			l.LogAttrs(context.Background(), slog.LevelInfo, "Event", tc.attr)
			out := buf.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("output %s\nmissing %q", out, tc.want)
			}
			if tc.notWant != "" && strings.Contains(out, tc.notWant) {
				t.Errorf("output %s\nleaks %q", out, tc.notWant)
			}
		})
	}
}

func TestRedactWithAttrsAndGroup(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(Redact(slog.NewJSONHandler(&buf, nil)))
	l.With("token", "abcdef").WithGroup("g").Info("Event "+testJWT, "secret", "x1")
	out := buf.String()
	for _, leak := range []string{"abcdef", "x1", "eyJhbGci"} {
		if strings.Contains(out, leak) {
			t.Errorf("output %s leaks %q", out, leak)
		}
	}
	if !strings.Contains(out, `"g":{"secret":"[REDACTED]"}`) {
		t.Errorf("output %s: group lost", out)
	}
}

func TestNewLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("Hidden")
	l.Warn("Shown", "secret", "v")
	if out := buf.String(); strings.Contains(out, "Hidden") || !strings.Contains(out, `"secret":"[REDACTED]"`) {
		t.Errorf("output %s", out)
	}
	if _, err := NewLogger(&buf, "loud"); err == nil {
		t.Error("NewLogger accepted level loud")
	}
}

func TestTusdLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(Redact(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l := TusdLogger(base).With("requestId", "r1")
	l.Info("RequestIncoming") // demoted to debug: dropped at info
	l.Info("ResponseOutgoing", "status", 204, "body", "")
	l.Info("ResponseOutgoing", "status", 409, "body", "ERR_MISMATCHED_OFFSET: mismatched offset")
	l.Info("UploadCreated", "id", "up1", "size", int64(5), "auth", expslog.StringValue("Bearer "+testJWT))
	l.Error("BodyReadError", "error", "unexpected EOF") // a client gone mid-PATCH: info
	l.Info("ResponseOutgoing", "status", 400, "body", "ERR_INVALID_CONTENT_TYPE: missing or invalid Content-Type header\n")
	out := buf.String()
	if !strings.Contains(out, `"status":415,"body":"ERR_INVALID_CONTENT_TYPE`) {
		t.Errorf("ERR_INVALID_CONTENT_TYPE not logged with the 415 the client gets: %s", out)
	}
	if !strings.Contains(out, `"level":"INFO","msg":"BodyReadError"`) {
		t.Errorf("BodyReadError not logged at info: %s", out)
	}
	if strings.Contains(out, "RequestIncoming") || strings.Contains(out, `"status":204`) {
		t.Errorf("RequestIncoming or a 204 ResponseOutgoing not demoted: %s", out)
	}
	if !strings.Contains(out, "ERR_MISMATCHED_OFFSET") {
		t.Errorf("error ResponseOutgoing demoted: %s", out)
	}
	for _, want := range []string{`"msg":"UploadCreated"`, `"component":"tusd"`, `"requestId":"r1"`, `"size":5`, `"auth":"Bearer [REDACTED]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %s missing %s", out, want)
		}
	}
}
