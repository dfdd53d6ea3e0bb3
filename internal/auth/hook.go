package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Hook defaults.
const (
	DefaultHookTimeout  = 5 * time.Second
	DefaultHookAttempts = 3
	DefaultHookBackoff  = 200 * time.Millisecond
	maxHookAnswerBytes  = 64 << 10
	maxHookReasonBytes  = 200
	maxHookMetaKeyBytes = 64
	maxHookMetaValBytes = 4 << 10
)

// DefaultHookHeaders are the request headers forwarded to the hook when
// [HookConfig.Headers] is empty.
var DefaultHookHeaders = []string{"User-Agent", "Origin", "Referer", "X-Request-ID", "X-Forwarded-For"}

// HookSignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">" when [HookConfig.Secret] is set.
const HookSignatureHeader = "Vodgate-Signature"

// Errors answered when the hook refuses or cannot be asked.
var (
	ErrUploadRejected  = handler.NewError("ERR_UPLOAD_REJECTED", "upload rejected by the application", http.StatusForbidden)
	ErrHookUnavailable = handler.NewError("ERR_HOOK_UNAVAILABLE", "upload authorization is unavailable, retry later", http.StatusServiceUnavailable)
	ErrHookBadAnswer   = handler.NewError("ERR_HOOK_BAD_ANSWER", "upload authorization gave an invalid answer", http.StatusBadGateway)
)

// HookConfig configures the pre-create hook. An empty URL disables it.
type HookConfig struct {
	// URL receives a POST with a [HookRequest] before each upload is
	// created and must answer 200 with a [HookResponse].
	URL string
	// Timeout bounds one attempt. Default: 5s.
	Timeout time.Duration
	// Attempts bounds tries of one call; timeouts, network errors, 429 and
	// 5xx are retried. Default: 3.
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each
	// further one. Default: 200ms.
	Backoff time.Duration
	// Headers lists the request headers forwarded (case-insensitive).
	// Authorization is forwarded only if listed. Default:
	// [DefaultHookHeaders].
	Headers []string
	// Secret, if set (at least 32 bytes), signs each call in the
	// Vodgate-Signature header so the app server can verify the caller.
	Secret []byte
}

func (c *HookConfig) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultHookTimeout
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultHookAttempts
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultHookBackoff
	}
	if len(c.Headers) == 0 {
		c.Headers = DefaultHookHeaders
	}
}

func (c *HookConfig) validate() error {
	if c.URL == "" {
		return nil
	}
	if err := checkURL(c.URL); err != nil {
		return fmt.Errorf("auth: hook url: %w", err)
	}
	if len(c.Secret) > 0 && len(c.Secret) < MinKeyBytes {
		return fmt.Errorf("auth: hook secret: %w", ErrShortKey)
	}
	return nil
}

// HookRequest is the JSON body POSTed to the hook.
type HookRequest struct {
	Type    string      `json:"type"` // "pre-create"
	Upload  HookUpload  `json:"upload"`
	Caller  *HookCaller `json:"caller,omitempty"` // absent when authentication is off
	Request HookHTTP    `json:"request"`
}

// HookUpload describes the upload about to be created.
type HookUpload struct {
	Size           int64             `json:"size"`
	SizeIsDeferred bool              `json:"sizeIsDeferred"`
	MetaData       map[string]string `json:"metadata"`
}

// HookCaller is the authenticated caller.
type HookCaller struct {
	Owner      string   `json:"owner"`
	MaxSize    int64    `json:"maxSize,omitempty"`
	MediaTypes []string `json:"mediaTypes,omitempty"`
}

// HookHTTP describes the client request.
type HookHTTP struct {
	Method     string              `json:"method"`
	URI        string              `json:"uri"`
	RemoteAddr string              `json:"remoteAddr"`
	Header     map[string][]string `json:"header"`
}

// HookResponse is the hook's answer. Allow false rejects the upload with
// 403 and Reason (at most 200 bytes are shown to the client). MetaData
// changes the upload's metadata: a string sets a key, null removes it.
type HookResponse struct {
	Allow    bool               `json:"allow"`
	Reason   string             `json:"reason,omitempty"`
	MetaData map[string]*string `json:"metadata,omitempty"`
}

// hookClient calls the pre-create hook.
type hookClient struct {
	cfg     HookConfig
	client  *http.Client
	logger  *slog.Logger
	metrics *metrics
}

// PreUploadCreate is tusd's PreUploadCreateCallback: it asks the hook
// whether the upload may be created and applies its metadata changes.
// Without a hook it allows everything and changes nothing.
func (a *Authenticator) PreUploadCreate(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	if a.hook == nil {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, nil
	}
	return a.hook.preCreate(ev)
}

func (h *hookClient) preCreate(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	ctx := ev.Context
	req := HookRequest{
		Type: "pre-create",
		Upload: HookUpload{Size: ev.Upload.Size, SizeIsDeferred: ev.Upload.SizeIsDeferred,
			MetaData: ev.Upload.MetaData},
		Request: HookHTTP{Method: ev.HTTPRequest.Method, URI: ev.HTTPRequest.URI,
			RemoteAddr: ev.HTTPRequest.RemoteAddr, Header: map[string][]string{}},
	}
	if req.Upload.MetaData == nil {
		req.Upload.MetaData = map[string]string{}
	}
	if c, ok := CallerOf(ctx); ok {
		req.Caller = &HookCaller{Owner: c.Owner, MaxSize: c.MaxSize, MediaTypes: c.MediaTypes}
	}
	for _, name := range h.cfg.Headers {
		if strings.EqualFold(name, "Authorization") {
			if raw, _ := ctx.Value(authHeaderKey{}).(string); raw != "" {
				req.Request.Header["Authorization"] = []string{raw}
			}
			continue
		}
		if v := ev.HTTPRequest.Header.Values(name); len(v) > 0 {
			req.Request.Header[http.CanonicalHeaderKey(name)] = v
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, fmt.Errorf("auth: encode hook request: %w", err)
	}
	ans, err := h.call(ctx, body)
	if err != nil {
		h.metrics.hookCalls.WithLabelValues("error").Inc()
		h.metrics.rejections.WithLabelValues(ReasonHookUnavailable).Inc()
		h.logger.WarnContext(ctx, "HookFailed", "error", err)
		if errors.Is(err, errBadAnswer) {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, ErrHookBadAnswer
		}
		e := ErrHookUnavailable
		e.HTTPResponse.Header = maps.Clone(e.HTTPResponse.Header)
		e.HTTPResponse.Header["Retry-After"] = strconv.Itoa(retryAfterSeconds)
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, e
	}
	if !ans.Allow {
		h.metrics.hookCalls.WithLabelValues("deny").Inc()
		h.metrics.rejections.WithLabelValues(ReasonHookDenied).Inc()
		reason := cleanReason(ans.Reason)
		h.logger.InfoContext(ctx, "UploadRejectedByHook", "reason", reason)
		if reason == "" {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, ErrUploadRejected
		}
		return handler.HTTPResponse{}, handler.FileInfoChanges{},
			handler.NewError(ErrUploadRejected.ErrorCode, reason, http.StatusForbidden)
	}
	h.metrics.hookCalls.WithLabelValues("allow").Inc()
	if len(ans.MetaData) == 0 {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, nil
	}
	meta := maps.Clone(req.Upload.MetaData)
	for k, v := range ans.MetaData {
		if v == nil {
			delete(meta, k)
		} else {
			meta[k] = *v
		}
	}
	return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: meta}, nil
}

var errBadAnswer = errors.New("bad answer")

// call POSTs body with retries and decodes the answer.
func (h *hookClient) call(ctx context.Context, body []byte) (HookResponse, error) {
	wait := h.cfg.Backoff
	var last error
	for attempt := 1; attempt <= h.cfg.Attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return HookResponse{}, fmt.Errorf("auth: hook: %w (after %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		ans, retry, err := h.attempt(ctx, body)
		if err == nil {
			return ans, nil
		}
		last = err
		if !retry {
			return HookResponse{}, err
		}
		h.logger.DebugContext(ctx, "HookRetry", "attempt", attempt, "error", err)
	}
	return HookResponse{}, fmt.Errorf("auth: hook: %d attempts failed: %w", h.cfg.Attempts, last)
}

func (h *hookClient) attempt(ctx context.Context, body []byte) (ans HookResponse, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return ans, false, fmt.Errorf("auth: hook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Vodgate-Hook", "pre-create")
	if len(h.cfg.Secret) > 0 {
		t := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, h.cfg.Secret)
		mac.Write([]byte(t + "."))
		mac.Write(body)
		req.Header.Set(HookSignatureHeader, "t="+t+",v1="+hex.EncodeToString(mac.Sum(nil)))
	}
	res, err := h.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may carry credentials in its query
		}
		return ans, true, fmt.Errorf("auth: hook: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxHookAnswerBytes+1))
	switch {
	case err != nil:
		return ans, true, fmt.Errorf("auth: hook: read answer: %w", err)
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return ans, true, fmt.Errorf("auth: hook: status %d", res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return ans, false, fmt.Errorf("auth: hook: status %d: %w", res.StatusCode, errBadAnswer)
	case len(data) > maxHookAnswerBytes:
		return ans, false, fmt.Errorf("auth: hook: answer over %d bytes: %w", maxHookAnswerBytes, errBadAnswer)
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return ans, false, fmt.Errorf("auth: hook: answer is not JSON (%v): %w", err, errBadAnswer)
	}
	for k, v := range ans.MetaData {
		if k == "" || len(k) > maxHookMetaKeyBytes || strings.ContainsAny(k, " ,\t\r\n") ||
			(v != nil && len(*v) > maxHookMetaValBytes) {
			return ans, false, fmt.Errorf("auth: hook: invalid metadata key or value: %w", errBadAnswer)
		}
	}
	return ans, false, nil
}

// cleanReason makes a hook's reason safe to send: printable, one line,
// at most maxHookReasonBytes.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxHookReasonBytes {
		s = s[:maxHookReasonBytes]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
