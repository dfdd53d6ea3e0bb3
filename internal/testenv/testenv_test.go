package testenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/testenv"
)

func TestRedisAndKeyPrefix(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	var prefix string
	t.Run("sub", func(t *testing.T) {
		prefix = testenv.KeyPrefix(t, rdb)
		if strings.ContainsAny(prefix, "{}*?[]") {
			t.Fatalf("prefix %q contains braces or glob characters", prefix)
		}
		if other := testenv.KeyPrefix(t, rdb); other == prefix {
			t.Fatalf("KeyPrefix returned %q twice", prefix)
		}
		for _, k := range []string{prefix + ":a", prefix + ":{x}:b"} {
			if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	n, err := rdb.Exists(ctx, prefix+":a", prefix+":{x}:b").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d keys under %s survived the test's cleanup", n, prefix)
	}
}

// fakeTB records Skipf and Fatalf and stops the helper like the real ones do.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

type stop struct{}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true; panic(stop{}) }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic(stop{}) }

func callRedisURL(tb *fakeTB) (url string) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
	}()
	return testenv.RedisURL(tb)
}

func TestRedisURLWithoutServer(t *testing.T) {
	tests := []struct {
		name, url, ci         string
		want                  string
		wantSkip, wantFailure bool
	}{
		{name: "set", url: "redis://127.0.0.1:1/0", want: "redis://127.0.0.1:1/0"},
		{name: "set under CI", url: "redis://127.0.0.1:1/0", ci: "true", want: "redis://127.0.0.1:1/0"},
		{name: "unset skips", wantSkip: true},
		{name: "unset under CI fails", ci: "true", wantFailure: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(testenv.RedisURLEnv, tc.url)
			t.Setenv("CI", tc.ci)
			tb := &fakeTB{TB: t}
			got := callRedisURL(tb)
			if got != tc.want || tb.skipped != tc.wantSkip || tb.failed != tc.wantFailure {
				t.Errorf("RedisURL = %q, skipped %v, failed %v; want %q, %v, %v",
					got, tb.skipped, tb.failed, tc.want, tc.wantSkip, tc.wantFailure)
			}
		})
	}
}
