package acme

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

func TestRedisStorage(t *testing.T) {
	rdb := testenv.Redis(t)
	s := NewRedisStorage(rdb, testenv.KeyPrefix(t, rdb)+":acme")
	ctx := context.Background()

	if _, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	for _, k := range []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key",
		"certificates/ca/b.example/b.example.crt", "acme/ca/users/x/x.json"} {
		if err := s.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := s.Load(ctx, "certificates/ca/a.example/a.example.key"); err != nil || string(b) != "v:certificates/ca/a.example/a.example.key" {
		t.Errorf("Load = %q, %v", b, err)
	}
	for _, tc := range []struct {
		path      string
		recursive bool
		want      []string
	}{
		{"certificates/ca", false, []string{"certificates/ca/a.example", "certificates/ca/b.example"}},
		{"certificates", true, []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key", "certificates/ca/b.example/b.example.crt"}},
		{"", false, []string{"acme", "certificates"}},
	} {
		got, err := s.List(ctx, tc.path, tc.recursive)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %v) = %v, %v; want %v", tc.path, tc.recursive, got, err, tc.want)
		}
	}
	if _, err := s.List(ctx, "nothing", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of an empty path: %v, want fs.ErrNotExist", err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca/b.example/b.example.crt"); err != nil || !ki.IsTerminal || ki.Size == 0 || time.Since(ki.Modified) > time.Minute {
		t.Errorf("Stat of a key = %+v, %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca"); err != nil || ki.IsTerminal {
		t.Errorf("Stat of a directory = %+v, %v", ki, err)
	}
	if s.Exists(ctx, "certificates/ca/c.example") {
		t.Error("Exists of a missing key")
	}
	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example/a.example.crt") || !s.Exists(ctx, "certificates/ca/b.example/b.example.crt") {
		t.Error("Delete of a directory removed the wrong keys")
	}

	// Locks exclude a second holder (another instance) until unlocked.
	other := NewRedisStorage(rdb, s.prefix)
	if err := s.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := other.Lock(short, "issue_cert_a.example"); err == nil {
		t.Fatal("a second holder got the lock")
	}
	got := make(chan error, 1)
	go func() { got <- other.Lock(ctx, "issue_cert_a.example") }()
	time.Sleep(200 * time.Millisecond)
	if err := s.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting holder did not get the lock after Unlock")
	}
	if err := s.Unlock(ctx, "issue_cert_a.example"); err == nil {
		t.Error("Unlock of a lock not held succeeded")
	}
	if err := other.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Error(err)
	}
}
