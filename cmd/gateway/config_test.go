package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mapEnv(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := "listen: 0.0.0.0:1000\npart-size: 16MiB\nvod-region: cn-beijing\nlog-level: warn\n" +
		"cors-origins: [https://a.example.com, https://b.example.com]\nlock-ttl: 7s\n" +
		"access-key-id: FILEID\naccess-key-secret: filesecret\n"
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, DefaultConfig()) {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "file over default",
			args: []string{"-config", "gw.yaml"},
			check: func(t *testing.T, c Config) {
				want := DefaultConfig()
				want.Listen, want.PartSize, want.VODRegion, want.LogLevel = "0.0.0.0:1000", 16<<20, "cn-beijing", "warn"
				want.CORSOrigins, want.LockTTL = List{"https://a.example.com", "https://b.example.com"}, 7*time.Second
				want.AccessKeyID, want.AccessKeySecret = "FILEID", "filesecret"
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "config file from env",
			env:  map[string]string{"VODGATE_CONFIG": "gw.yaml"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "0.0.0.0:1000" {
					t.Errorf("listen = %q", c.Listen)
				}
			},
		},
		{
			name: "env over file",
			args: []string{"-config", "gw.yaml"},
			env: map[string]string{"VODGATE_LISTEN": "127.0.0.1:2000", "VODGATE_PART_SIZE": "32MiB",
				"VODGATE_CORS_ORIGINS": "", "VODGATE_DELETE_MEDIA_ON_TERMINATE": "true",
				"ALIBABA_CLOUD_ACCESS_KEY_ID": "ENVID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "envsecret",
				"ALIBABA_CLOUD_SECURITY_TOKEN": "envtoken"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:2000" || c.PartSize != 32<<20 || c.CORSOrigins != nil || !c.DeleteMediaOnTerminate {
					t.Errorf("listen %q part %d cors %v delete %v", c.Listen, c.PartSize, c.CORSOrigins, c.DeleteMediaOnTerminate)
				}
				if c.VODRegion != "cn-beijing" || c.LockTTL != 7*time.Second {
					t.Errorf("file values lost: region %q lock-ttl %s", c.VODRegion, c.LockTTL)
				}
				if c.AccessKeyID != "ENVID" || c.AccessKeySecret != "envsecret" || c.SecurityToken != "envtoken" {
					t.Errorf("credentials %q %q %q", c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
				}
			},
		},
		{
			name: "flag over env",
			args: []string{"-config", "gw.yaml", "-listen", "127.0.0.1:3000", "-dev", "-default-cate-id=42",
				"-cors-origins", "*", "-expiration", "24h"},
			env: map[string]string{"VODGATE_LISTEN": "127.0.0.1:2000", "VODGATE_DEV": "false",
				"VODGATE_EXPIRATION": "48h", "VODGATE_LOG_LEVEL": "debug"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:3000" || !c.Dev || c.DefaultCateID != 42 || c.Expiration != 24*time.Hour {
					t.Errorf("listen %q dev %v cate %d expiration %s", c.Listen, c.Dev, c.DefaultCateID, c.Expiration)
				}
				if !reflect.DeepEqual(c.CORSOrigins, List{"*"}) || c.LogLevel != "debug" {
					t.Errorf("cors %v log-level %q", c.CORSOrigins, c.LogLevel)
				}
			},
		},
		{
			name: "last flag wins",
			args: []string{"-listen", "127.0.0.1:1", "-listen", "127.0.0.1:2", "-dev=false"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:2" || c.Dev {
					t.Errorf("listen %q dev %v", c.Listen, c.Dev)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Load(tc.args, mapEnv(tc.env), files(map[string]string{"gw.yaml": file}), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	fsys := files(map[string]string{
		"unknown.yaml": "listen: 127.0.0.1:1\nlisten-addr: x\n",
		"badsize.yaml": "part-size: lots\n",
		"baddur.yaml":  "lock-ttl: 5 parsecs\n",
		"secret.yaml":  "access-key-secret: s\n",
	})
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"unknown file key", []string{"-config", "unknown.yaml"}, nil, "field listen-addr not found"},
		{"bad size in file", []string{"-config", "badsize.yaml"}, nil, "invalid size"},
		{"bad duration in file", []string{"-config", "baddur.yaml"}, nil, "baddur.yaml"},
		{"missing file", []string{"-config", "nope.yaml"}, nil, "config file"},
		{"bad env", nil, map[string]string{"VODGATE_LOCK_TTL": "soon"}, "env VODGATE_LOCK_TTL"},
		{"bad env bool", nil, map[string]string{"VODGATE_DEV": "maybe"}, "env VODGATE_DEV"},
		{"bad flag", []string{"-vod-max-attempts", "three"}, nil, "flag -vod-max-attempts"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"credentials are not flags", []string{"-access-key-secret", "x"}, nil, "not defined"},
		{"stray argument", []string{"serve"}, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(tc.args, mapEnv(tc.env), fsys, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	_, opts, err := Load([]string{"-config", "secret.yaml"}, mapEnv(nil), fsys, io.Discard)
	if err != nil || len(opts.Warnings) != 1 {
		t.Errorf("secret in file: err %v, warnings %q", err, opts.Warnings)
	}
}

func TestLoadHelpAndVersion(t *testing.T) {
	var out strings.Builder
	_, _, err := Load([]string{"-h"}, mapEnv(nil), files(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-redis-url", "VODGATE_REDIS_URL", "(default 127.0.0.1:8080)", "-dev", "ALIBABA_CLOUD_ACCESS_KEY_ID"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	for _, args := range [][]string{{"-version"}, {"version"}} {
		if _, opts, err := Load(args, mapEnv(nil), files(nil), io.Discard); err != nil || !opts.Version {
			t.Errorf("%v: version %v err %v", args, opts.Version, err)
		}
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"listen": "VODGATE_LISTEN", "redis-url": "VODGATE_REDIS_URL",
		"delete-media-on-terminate": "VODGATE_DELETE_MEDIA_ON_TERMINATE", "oss-auth-v4": "VODGATE_OSS_AUTH_V4"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"8388608", 8 << 20, true}, {"8MiB", 8 << 20, true}, {"100KiB", 100 << 10, true},
		{"1.5GiB", 3 << 29, true}, {"48.8TB", 48_800_000_000_000, true}, {"10 MB", 10_000_000, true},
		{"512B", 512, true}, {"0", 0, true},
		{"-1", 0, false}, {"8 mebibytes", 0, false}, {"", 0, false}, {"MiB", 0, false},
	} {
		got, err := ParseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for b, want := range map[ByteSize]string{8 << 20: "8MiB", 512 << 20: "512MiB", 100 << 10: "100KiB", 1000: "1000", 0: "0"} {
		if got := b.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(b), got, want)
		}
	}
}
