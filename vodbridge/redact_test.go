package vodbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedaction(t *testing.T) {
	cred := Credential{AccessKeyID: "STS.visible-id", AccessKeySecret: "sk-SECRET-VALUE", SecurityToken: "CAIS-TOKEN-VALUE",
		Region: "cn-shanghai", Expires: time.Date(2026, 11, 24, 15, 50, 0, 0, time.UTC)}
	tgt := Target{MediaID: "vid1", Type: MediaVideo, Credential: cred,
		Address: Address{Endpoint: "https://oss-cn-shanghai.aliyuncs.com", Bucket: "outin-x", FileName: "sv/a.mp4"}}
	secrets := []string{cred.AccessKeySecret, cred.SecurityToken}

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Info("IssuedCredential", "cred", cred)
	log.Info("TargetReady", "target", tgt)
	log.Info("Pointers", "cred", &cred, "target", &tgt)
	txt := slog.New(slog.NewTextHandler(&buf, nil))
	txt.Info("Text", "cred", cred, "target", tgt)

	outputs := map[string]string{
		"slog":          buf.String(),
		"String":        cred.String() + tgt.String(),
		"%v":            fmt.Sprintf("%v %v", cred, tgt),
		"%+v":           fmt.Sprintf("%+v %+v", cred, tgt),
		"%#v":           fmt.Sprintf("%#v %#v", cred, tgt),
		"%s ptr":        fmt.Sprintf("%s %s", &cred, &tgt),
		"nested struct": fmt.Sprintf("%+v", struct{ T Target }{tgt}),
		"slice":         fmt.Sprint([]Target{tgt}),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output leaks %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(out, "STS.visible-id") {
			t.Errorf("%s output lacks the AccessKey id:\n%s", name, out)
		}
	}
	// The JSON handler output stays parseable and shows the redaction marker.
	first, _, _ := strings.Cut(buf.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatal(err)
	}
	c := rec["cred"].(map[string]any)
	if c["access_key_id"] != "STS.visible-id" || c["access_key_secret"] != redacted || c["security_token"] != redacted {
		t.Errorf("cred record = %v", c)
	}
}

func TestLogsOfCallsHoldNoSecrets(t *testing.T) {
	f := newFakeVOD(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, f.endpoint(), func(c *Config) { c.Logger = logger })
	f.push("CreateUploadVideo", vodError(400, "Throttling.User", "slow"))
	tgt, err := c.CreateUpload(t.Context(), CreateRequest{Title: "t", FileName: "a.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("TargetReady", "target", tgt)
	out := buf.String()
	if !strings.Contains(out, "VODRetry") || !strings.Contains(out, "VODCall") {
		t.Errorf("expected VODRetry and VODCall events:\n%s", out)
	}
	for _, s := range []string{testSecret, stsSecret, stsToken} {
		if strings.Contains(out, s) {
			t.Errorf("log leaks %q:\n%s", s, out)
		}
	}
}
