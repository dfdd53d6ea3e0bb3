package main

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/auth"
)

func TestTokenSubcommand(t *testing.T) {
	const key1 = "first-upload-token-key-0123456789abcdef"
	const key2 = "second-upload-token-key-0123456789abcdef"
	files := map[string]string{
		"keys":  "# rotation: the first line signs\n" + key1 + "\n\n" + key2 + "\n",
		"short": "tooshort\n",
		"empty": "# nothing\n",
	}
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
	env := func(k string) (string, bool) {
		if k == "VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE" {
			return "keys", true
		}
		return "", false
	}
	verifier, err := auth.New(auth.Config{UploadTokenKeys: [][]byte{[]byte(key2), []byte(key1)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // stderr substring when code != 0
	}{
		{"minimal", []string{"-sub", "alice"}, 0, ""},
		{"all flags", []string{"-key-file", "keys", "-sub", "bob", "-ttl", "10m", "-max-size", "2GiB", "-types", "video,image",
			"-template-group-id", "tg", "-workflow-id", "wf", "-cate-id", "7", "-storage-location", "loc", "-app-id", "app"}, 0, ""},
		{"no sub", []string{}, 2, "-sub is required"},
		{"missing key file", []string{"-key-file", "nope", "-sub", "a"}, 2, "auth-upload-token-key-file"},
		{"short key", []string{"-key-file", "short", "-sub", "a"}, 2, "want at least 32"},
		{"no key", []string{"-key-file", "empty", "-sub", "a"}, 2, "holds no key"},
		{"bad type", []string{"-sub", "a", "-types", "audio"}, 2, "media types"},
		{"bad ttl", []string{"-sub", "a", "-ttl", "-1h"}, 2, "-ttl must be positive"},
		{"stray argument", []string{"-sub", "a", "extra"}, 2, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runToken(tc.args, env, readFile, &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			if tc.code != 0 {
				if !strings.Contains(errOut.String(), tc.want) {
					t.Fatalf("stderr %q, want %q", errOut.String(), tc.want)
				}
				if strings.Contains(errOut.String(), key1) {
					t.Fatal("stderr leaks the key")
				}
				return
			}
			tok := strings.TrimSpace(out.String())
			c, err := verifier.Authenticate(context.Background(), tok)
			if err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			if want := map[string]string{"minimal": "alice", "all flags": "bob"}[tc.name]; c.Owner != want {
				t.Fatalf("owner %q, want %q", c.Owner, want)
			}
			if tc.name == "all flags" && (c.MaxSize != 2<<30 || len(c.MediaTypes) != 2 || c.Fixed.CateID != 7 || c.Fixed.TemplateGroupID != "tg") {
				t.Fatalf("caller %+v", c)
			}
		})
	}
	// The subcommand is reached through run.
	var out, errOut bytes.Buffer
	if code := run([]string{"token", "-h"}, env, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "-key-file") {
		t.Fatalf("gateway token -h: exit %d, %s", code, errOut.String())
	}
}
