package vodbridge

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{AccessKeyID: "ak", AccessKeySecret: "sk"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string // "" = valid
		sent   error
	}{
		{"minimal", func(*Config) {}, "", nil},
		{"no ak", func(c *Config) { c.AccessKeyID = " " }, "AccessKeyID", ErrRequired},
		{"no secret", func(c *Config) { c.AccessKeySecret = "" }, "AccessKeySecret", ErrRequired},
		{"bad region", func(c *Config) { c.Region = "CN_Shanghai" }, "Region", ErrInvalidValue},
		{"endpoint with scheme", func(c *Config) { c.Endpoint = "https://vod.cn-shanghai.aliyuncs.com" }, "Endpoint", ErrInvalidValue},
		{"endpoint with path", func(c *Config) { c.Endpoint = "127.0.0.1:80/x" }, "Endpoint", ErrInvalidValue},
		{"endpoint host:port", func(c *Config) { c.Endpoint = "127.0.0.1:8081" }, "", nil},
		{"protocol ftp", func(c *Config) { c.Protocol = "ftp" }, "Protocol", ErrInvalidValue},
		{"protocol HTTP", func(c *Config) { c.Protocol = "HTTP" }, "", nil},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout", ErrInvalidValue},
		{"tiny timeout", func(c *Config) { c.Timeout = time.Microsecond }, "Timeout", ErrInvalidValue},
		{"negative attempts", func(c *Config) { c.MaxAttempts = -1 }, "MaxAttempts", ErrInvalidValue},
		{"negative lifetime", func(c *Config) { c.CredentialLifetime = -1 }, "CredentialLifetime", ErrInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			_, err := New(cfg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, tc.sent) {
				t.Fatalf("New error = %v, want *ConfigError on %s wrapping %v", err, tc.field, tc.sent)
			}
			if !strings.HasPrefix(err.Error(), "vodbridge: ") || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q lacks prefix or field name", err)
			}
		})
	}
}

func TestConfigErrorNeverShowsSecret(t *testing.T) {
	_, err := New(Config{AccessKeySecret: "topsecret"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewDefaultsAndEndpoint(t *testing.T) {
	for _, tc := range []struct {
		region, endpoint, want string
	}{
		{"", "", "vod.cn-shanghai.aliyuncs.com"},
		{"cn-shanghai", "", "vod.cn-shanghai.aliyuncs.com"},
		{"cn-hangzhou", "", "vod.cn-shanghai.aliyuncs.com"}, // SDK endpoint map
		{"cn-beijing", "", "vod.cn-beijing.aliyuncs.com"},
		{"ap-southeast-1", "", "vod.ap-southeast-1.aliyuncs.com"},
		{"us-east-1", "", "vod.aliyuncs.com"},
		{"cn-beijing", "127.0.0.1:9", "127.0.0.1:9"},
	} {
		t.Run(tc.region+"/"+tc.endpoint, func(t *testing.T) {
			c, err := New(Config{AccessKeyID: "ak", AccessKeySecret: "sk", Region: tc.region, Endpoint: tc.endpoint})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Endpoint(); got != tc.want {
				t.Errorf("Endpoint() = %q, want %q", got, tc.want)
			}
		})
	}
	c, err := New(Config{AccessKeyID: "ak", AccessKeySecret: "sk"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Region != DefaultRegion || c.cfg.Protocol != "https" || c.cfg.Timeout != DefaultTimeout ||
		c.cfg.MaxAttempts != DefaultMaxAttempts || c.cfg.CredentialLifetime != DefaultCredentialLifetime ||
		c.cfg.Clock == nil || c.cfg.Logger == nil {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	sdk, err := c.sdk()
	if err != nil {
		t.Fatal(err)
	}
	if got := *sdk.ReadTimeout; got != 10000 {
		t.Errorf("SDK ReadTimeout = %d ms, want 10000", got)
	}
	if got := *sdk.ConnectTimeout; got != 10000 {
		t.Errorf("SDK ConnectTimeout = %d ms, want 10000", got)
	}
	if sdk.RetryOptions != nil {
		t.Errorf("SDK RetryOptions set; retries are ours")
	}
}

func TestBackoffBounds(t *testing.T) {
	c := &Client{backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax}
	for _, tc := range []struct {
		n    int
		step time.Duration // un-jittered step
	}{
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, 1600 * time.Millisecond},
		{5, 2 * time.Second},
		{30, 2 * time.Second},
	} {
		for range 50 {
			d := c.backoff(tc.n)
			if d < tc.step/2 || d > tc.step {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tc.n, d, tc.step/2, tc.step)
			}
		}
	}
}
