package locker_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/locker"
)

// TestRedisDown: with Redis unreachable, Lock fails fast with an error that
// tusd turns into 503 + Retry-After, and nothing panics.
func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	lk := newLocker(t, rdb, locker.Config{TTL: 3 * time.Second})
	lk.RegisterMetrics(reg)
	l, err := lk.NewLock("up")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = l.Lock(ctxFor(t, 10*time.Second), func() {})
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Lock took %s with Redis down, want a fast failure", elapsed)
	}
	if !errors.Is(err, locker.ErrUnavailable) {
		t.Fatalf("Lock = %v, want ErrUnavailable", err)
	}
	var ue *locker.UnavailableError
	if !errors.As(err, &ue) || !ue.Temporary() || ue.Op != "acquire" || ue.ID != "up" {
		t.Errorf("Lock error = %#v, want a temporary *UnavailableError for acquire up", err)
	}
	if !strings.HasPrefix(err.Error(), "locker: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	var herr handler.Error // what tusd's sendError looks for
	if !errors.As(err, &herr) {
		t.Fatalf("errors.As(%v, *handler.Error) = false", err)
	}
	if herr.HTTPResponse.StatusCode != 503 || herr.HTTPResponse.Header["Retry-After"] != "3" || herr.ErrorCode != "ERR_LOCK_UNAVAILABLE" {
		t.Errorf("tus response = %d %s Retry-After %q, want 503 ERR_LOCK_UNAVAILABLE Retry-After 3",
			herr.HTTPResponse.StatusCode, herr.ErrorCode, herr.HTTPResponse.Header["Retry-After"])
	}
	if errors.Is(err, handler.ErrLockTimeout) {
		t.Error("an unavailable Redis must not look like a lock timeout (500)")
	}
	if got := metric(t, reg, "vodgate_locker_errors_total", "op", "acquire"); got != 1 {
		t.Errorf("errors_total{op=acquire} = %v, want 1", got)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("Unlock of a lock never acquired = %v, want nil", err)
	}
}

// TestNonTemporaryRedisError: a Redis reply error that retrying cannot fix
// (here WRONGTYPE on the fence key) is a plain wrapped error, i.e. a 500, and
// the half-taken lock is cleaned up.
func TestNonTemporaryRedisError(t *testing.T) {
	rdb := miniRedis(t)
	if err := rdb.HSet(t.Context(), "vodgate:{up}:fence", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	l, _ := newLocker(t, rdb, locker.Config{}).NewLock("up")
	err := l.Lock(ctxFor(t, time.Second), func() {})
	if err == nil || errors.Is(err, locker.ErrUnavailable) || errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("Lock = %v, want a non-temporary error", err)
	}
	if !strings.HasPrefix(err.Error(), "locker: acquire up: ") {
		t.Errorf("error = %q, want prefix \"locker: acquire up: \"", err)
	}
	var herr handler.Error
	if errors.As(err, &herr) {
		t.Errorf("error converts to tus response %d, want none (tusd answers 500)", herr.HTTPResponse.StatusCode)
	}
	waitUntil(t, time.Second, "lock key cleaned up", func() bool {
		return rdb.Exists(t.Context(), "vodgate:{up}:lock").Val() == 0
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     locker.Config
		wantErr bool
	}{
		{"zero", locker.Config{}, false},
		{"explicit", locker.Config{Prefix: "gw", TTL: 10 * time.Second, RenewEvery: 3 * time.Second, RetryEvery: 20 * time.Millisecond}, false},
		{"renew equals ttl", locker.Config{TTL: time.Second, RenewEvery: time.Second}, true},
		{"renew above default ttl", locker.Config{RenewEvery: 6 * time.Second}, true},
		{"tiny ttl", locker.Config{TTL: time.Millisecond}, true},
		{"negative retry", locker.Config{RetryEvery: -time.Second}, true},
		{"negative renew", locker.Config{RenewEvery: -time.Second}, true},
		{"braces in prefix", locker.Config{Prefix: "a{b}"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, locker.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestInvalidConfigStillWorks: New cannot fail; it replaces invalid fields.
func TestInvalidConfigStillWorks(t *testing.T) {
	ev := &events{}
	lk := newLocker(t, miniRedis(t), locker.Config{TTL: time.Second, RenewEvery: 2 * time.Second, Prefix: "{x}", Logger: slog.New(ev)})
	if ev.count("InvalidConfig") != 1 {
		t.Errorf("InvalidConfig logged %d times, want 1", ev.count("InvalidConfig"))
	}
	l, _ := lk.NewLock("up")
	if err := l.Lock(ctxFor(t, time.Second), func() {}); err != nil {
		t.Fatal(err)
	}
	if key, _, ok := lk.Fence("up"); !ok || key != "vodgate:{up}:fence" {
		t.Errorf("Fence key = %q, %v; want the default prefix", key, ok)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockMisuse(t *testing.T) {
	lk := newLocker(t, miniRedis(t), locker.Config{})
	if _, err := lk.NewLock(""); err == nil {
		t.Error("NewLock(\"\") succeeded")
	}
	l, _ := lk.NewLock("up")
	if err := l.Lock(ctxFor(t, time.Second), nil); err != nil { // nil requestUnlock is allowed
		t.Fatal(err)
	}
	if err := l.Lock(ctxFor(t, time.Second), nil); err == nil {
		t.Error("second Lock on a held lock object succeeded")
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock = %v, want nil", err)
	}
}
