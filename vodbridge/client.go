package vodbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
	"go.opentelemetry.io/otel/trace"
)

// Client calls the VOD API. It is safe for concurrent use. Build it with
// [New]; release idle connections with [Client.Close].
type Client struct {
	cfg       Config // defaults applied, validated
	endpoint  string // resolved VOD endpoint host[:port]
	logger    *slog.Logger
	http      *http.Client
	transport *http.Transport
	// backoff bounds; tests shorten them.
	backoffBase, backoffMax time.Duration
	// sdks holds idle SDK clients: one is used by one attempt at a time,
	// and reusing them saves the SDK's per-client Init.
	sdks sync.Pool
	// tracer makes the call spans; nil: none.
	tracer trace.Tracer
}

// New validates cfg, applies defaults and builds a Client. It does no
// network I/O. Configuration errors are *ConfigError.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout,
	}
	c := &Client{
		cfg:         cfg,
		logger:      cfg.Logger.With("component", "vodbridge"),
		http:        &http.Client{Transport: tr},
		transport:   tr,
		backoffBase: DefaultBackoffBase,
		backoffMax:  DefaultBackoffMax,
	}
	if cfg.TracerProvider != nil {
		c.tracer = cfg.TracerProvider.Tracer("github.com/vodgate/vodgate/vodbridge")
	}
	// Build one SDK client now so endpoint resolution errors surface in New.
	sdk, err := c.sdk()
	if err != nil {
		return nil, fmt.Errorf("vodbridge: init vod sdk: %w", err)
	}
	c.endpoint = dara.StringValue(sdk.Endpoint)
	return c, nil
}

// Endpoint returns the VOD API host[:port] the client calls.
func (c *Client) Endpoint() string { return c.endpoint }

// Close releases idle connections. The Client remains usable.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// sdk builds a fresh SDK client. A *vod.Client is not safe for concurrent
// calls (openapi's GetRpcHeaders writes client.Headers on every call, and
// Init writes config.Type), so every attempt gets its own client over the
// shared http.Client and connection pool; building one does no I/O.
func (c *Client) sdk() (*vod.Client, error) {
	conf := &openapi.Config{
		AccessKeyId:     dara.String(c.cfg.AccessKeyID),
		AccessKeySecret: dara.String(c.cfg.AccessKeySecret),
		RegionId:        dara.String(c.cfg.Region),
		Protocol:        dara.String(c.cfg.Protocol),
		// Milliseconds. With our HttpClient the SDK does not apply these
		// itself (the per-attempt ctx and our dialer do), but they keep the
		// SDK's view consistent.
		ReadTimeout:    dara.Int(int(c.cfg.Timeout / time.Millisecond)),
		ConnectTimeout: dara.Int(int(c.cfg.Timeout / time.Millisecond)),
		UserAgent:      dara.String("vodgate-vodbridge"),
		HttpClient:     sdkHTTP{c.http},
	}
	if c.cfg.SecurityToken != "" {
		conf.SecurityToken = dara.String(c.cfg.SecurityToken)
	}
	if c.cfg.Endpoint != "" {
		// Only a non-nil Endpoint overrides the region map.
		conf.Endpoint = dara.String(c.cfg.Endpoint)
	}
	return vod.NewClient(conf)
}

// sdkHTTP adapts *http.Client to dara.HttpClient. Using our own client
// avoids the SDK's process-wide client pool (which rewrites a shared
// http.Client's Timeout on every call) and its dialer, which reads
// ConnectTimeout as seconds.
type sdkHTTP struct{ c *http.Client }

// maxErrorBody bounds how much of an error body is buffered.
const maxErrorBody = 64 << 10

// Call sends req, ignoring the SDK-built transport. The SDK parses every
// 4xx/5xx body as JSON; an error body that is not JSON (an HTML 502 from a
// load balancer, an empty 503) would become a bare parse error without the
// status, so it is replaced by {"Code":<status text>,"Message":…}.
func (h sdkHTTP) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	resp, err := h.c.Do(req)
	if err != nil || resp.StatusCode < 400 || resp.StatusCode > 599 {
		return resp, err
	}
	if resp.Header.Get("Content-Type") == "text/xml;charset=utf-8" {
		return resp, nil // the only content type the SDK parses as XML
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if rerr == nil && json.Valid(body) {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	code := strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
	if code == "" {
		code = fmt.Sprintf("HTTP%d", resp.StatusCode)
	}
	synth, _ := json.Marshal(map[string]string{
		"Code":      code,
		"Message":   "non-json error body from " + req.URL.Host,
		"RequestId": resp.Header.Get("x-acs-request-id"),
	})
	resp.Body = io.NopCloser(bytes.NewReader(synth))
	resp.Header.Set("Content-Type", "application/json")
	resp.ContentLength = int64(len(synth))
	return resp, nil
}
