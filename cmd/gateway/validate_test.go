package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.AccessKeyID, c.AccessKeySecret = "LTAIexample", "secret"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		fields []string // keys reported, in order; nil: valid
	}{
		{"defaults with credentials", func(*Config) {}, nil},
		{"defaults without credentials", func(c *Config) { c.AccessKeyID, c.AccessKeySecret = "", "" },
			[]string{"access-key-id", "access-key-secret"}},
		{"dev needs no credentials", func(c *Config) { c.AccessKeyID, c.AccessKeySecret, c.Dev = "", "", true }, nil},
		{"listen", func(c *Config) { c.Listen = "8080" }, []string{"listen"}},
		{"base path", func(c *Config) { c.BasePath = "files" }, []string{"base-path"}},
		{"cors origin", func(c *Config) { c.CORSOrigins = List{"*", "example.com"} }, []string{"cors-origins"}},
		{"log level", func(c *Config) { c.LogLevel = "chatty" }, []string{"log-level"}},
		{"zero timeout", func(c *Config) { c.NetworkTimeout = 0 }, []string{"network-timeout"}},
		{"shutdown below completion", func(c *Config) { c.ShutdownTimeout = 5 * time.Second }, []string{"shutdown-timeout"}},
		{"lock ttl tiny", func(c *Config) { c.LockTTL = time.Millisecond }, []string{"lock-ttl"}},
		{"redis url", func(c *Config) { c.RedisURL = "http://localhost" }, []string{"redis-url"}},
		{"redis sentinel url", func(c *Config) { c.RedisURL = "redis://s1:26379/0?master_name=m&addr=s2:26379" }, nil},
		{"redis cluster url", func(c *Config) { c.RedisURL = "redis+cluster://n1:7000?addr=n2:7000&addr=n3:7000" }, nil},
		{"redis cluster url bad", func(c *Config) { c.RedisURL = "redis+cluster://n1:7000?nope=1" }, []string{"redis-url"}},
		{"redis prefix", func(c *Config) { c.RedisPrefix = "a{b}" }, []string{"redis-prefix"}},
		{"vod endpoint with scheme", func(c *Config) { c.VODEndpoint = "https://vod.cn-shanghai.aliyuncs.com" }, []string{"vod-endpoint"}},
		{"vod endpoint host:port", func(c *Config) { c.VODEndpoint = "127.0.0.1:9081" }, nil},
		{"vod protocol", func(c *Config) { c.VODProtocol = "ftp" }, []string{"vod-protocol"}},
		{"vod attempts", func(c *Config) { c.VODMaxAttempts = 0 }, []string{"vod-max-attempts"}},
		{"oss endpoint", func(c *Config) { c.OSSEndpoint = "oss-cn-shanghai-internal.aliyuncs.com" }, nil},
		{"oss endpoint bad", func(c *Config) { c.OSSEndpoint = "https://" }, []string{"oss-endpoint"}},
		{"part size small", func(c *Config) { c.PartSize = 1000 }, []string{"part-size"}},
		{"part size large", func(c *Config) { c.PartSize = 6 << 30; c.BufferBudget = 16 << 30 }, []string{"part-size"}},
		{"budget below two parts", func(c *Config) { c.BufferBudget = 10 << 20 }, []string{"buffer-budget"}},
		{"max size", func(c *Config) { c.MaxSize = 49_000 << 30 }, []string{"max-size"}},
		{"expiration 7 days", func(c *Config) { c.Expiration = 7 * 24 * time.Hour }, []string{"expiration"}},
		{"refresh before lifetime", func(c *Config) { c.RefreshBefore = time.Hour }, []string{"refresh-before"}},
		{"negative cate id", func(c *Config) { c.DefaultCateID = -1 }, []string{"default-cate-id"}},
		{"dev addresses", func(c *Config) { c.Dev, c.DevOSSListen, c.DevDataDir = true, "nope", "" },
			[]string{"dev-oss-listen", "dev-data-dir"}},
		{"tls", func(c *Config) { c.TLSCertFile, c.TLSKeyFile, c.HTTP3 = "cert.pem", "key.pem", true }, nil},
		{"tls cert without key", func(c *Config) { c.TLSCertFile = "cert.pem" }, []string{"tls-key-file"}},
		{"tls key without cert", func(c *Config) { c.TLSKeyFile = "key.pem" }, []string{"tls-cert-file"}},
		{"http3 without tls", func(c *Config) { c.HTTP3 = true }, []string{"http3"}},
		{"h2c without tls", func(c *Config) { c.H2C = true }, nil},
		{"acme", func(c *Config) { c.ACMEDomains, c.HTTP3 = List{"upload.example.com"}, true }, nil},
		{"acme and files", func(c *Config) { c.ACMEDomains, c.TLSCertFile, c.TLSKeyFile = List{"upload.example.com"}, "c", "k" },
			[]string{"acme-domains"}},
		{"acme bad", func(c *Config) { c.ACMEDomains, c.ACMECA, c.ACMEStorage = List{"https://x"}, "http://ca", "" },
			[]string{"acme-ca", "acme-storage", "acme-domains"}},
		{"several at once", func(c *Config) { c.Listen, c.VODProtocol = "", "ftp" }, []string{"listen", "vod-protocol"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(&c)
			err := c.Validate()
			var got []string
			for _, e := range unjoin(err) {
				var ce *ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *ConfigError", e)
				}
				if !strings.Contains(e.Error(), "config: "+ce.Field+": ") {
					t.Errorf("message %q does not name the field", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %v, want %v (err: %v)", got, tc.fields, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidateHidesRedisPassword(t *testing.T) {
	c := validConfig()
	c.RedisURL = "redis://user:hunter2@host:6379/x"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigLogValue(t *testing.T) {
	c := validConfig()
	c.SecurityToken = "tok"
	c.RedisURL = "redis://:hunter2@host:6379/0"
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("ConfigLoaded", "config", c)
	out := buf.String()
	for _, leak := range []string{`"secret"`, `"tok"`, "hunter2"} {
		if strings.Contains(out, leak) {
			t.Errorf("log %s leaks %s", out, leak)
		}
	}
	for _, want := range []string{`"access-key-id":"LTAIexample"`, `"part-size":"8MiB"`, `"listen":"127.0.0.1:8080"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}
