package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/server"
)

const wechatExample = "../../examples/wechat-miniprogram"

// TestWeChatExampleIsAMiniProgram keeps examples/wechat-miniprogram a
// mini-program WeChat DevTools opens, and its client in step with the
// gateway: valid app.json and project.config.json (base library 2.10.0 or
// later, for readFile at a position), every page with its .js, .wxml and
// .json, only relative requires and no Node or browser-only API in the
// code, never a PATCH method, the gateway's media headers read by the
// client, and a README that names the request legal domain setting. The
// client's behaviour is tested end to end in internal/e2e (wechat_test.go).
func TestWeChatExampleIsAMiniProgram(t *testing.T) {
	var app struct {
		Pages []string `json:"pages"`
	}
	readJSON(t, filepath.Join(wechatExample, "app.json"), &app)
	if len(app.Pages) == 0 {
		t.Fatal("app.json lists no pages")
	}
	for _, p := range app.Pages {
		for _, ext := range []string{".js", ".wxml", ".json"} {
			f := filepath.Join(wechatExample, filepath.FromSlash(p)+ext)
			if _, err := os.Stat(f); err != nil {
				t.Errorf("page %s: %v", p, err)
			}
			if ext == ".json" {
				var v map[string]any
				readJSON(t, f, &v)
			}
		}
	}
	var proj struct {
		CompileType string `json:"compileType"`
		LibVersion  string `json:"libVersion"`
	}
	readJSON(t, filepath.Join(wechatExample, "project.config.json"), &proj)
	if proj.CompileType != "miniprogram" || !versionAtLeast(proj.LibVersion, 2, 10) {
		t.Errorf("project.config.json: compileType %q, libVersion %q; want miniprogram, >= 2.10.0", proj.CompileType, proj.LibVersion)
	}

	require := regexp.MustCompile(`\brequire\(\s*['"]([^'"]+)['"]`)
	forbidden := regexp.MustCompile(`\bprocess\.|\bBuffer\b|__dirname|\bfetch\(|XMLHttpRequest|\bbtoa\(|\bTextEncoder\b|\bnew URL\(|\bimport\s|method:\s*['"]PATCH['"]`)
	var jsFiles int
	err := filepath.WalkDir(wechatExample, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		jsFiles++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		code := stripJSComments(string(b))
		for _, m := range require.FindAllStringSubmatch(code, -1) {
			if !strings.HasPrefix(m[1], "./") && !strings.HasPrefix(m[1], "../") {
				t.Errorf("%s requires %q: mini-program code has only relative modules", p, m[1])
			} else if _, err := os.Stat(filepath.Join(filepath.Dir(p), m[1])); err != nil {
				t.Errorf("%s requires %q: %v", p, m[1], err)
			}
		}
		for _, m := range forbidden.FindAllString(code, -1) {
			t.Errorf("%s uses %q, which WeChat's JS runtime lacks or refuses", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if jsFiles < 3 {
		t.Errorf("found %d .js files, want app.js, the page and utils/tus.js", jsFiles)
	}

	client := readText(t, filepath.Join(wechatExample, "utils", "tus.js"))
	for _, s := range []string{server.HeaderMediaID, server.HeaderMediaType, "X-HTTP-Method-Override", "application/offset+octet-stream"} {
		if !strings.Contains(client, "'"+s+"'") {
			t.Errorf("utils/tus.js does not use the header or value %q", s)
		}
	}
	if !strings.Contains(client, "module.exports") {
		t.Error("utils/tus.js is not a CommonJS module (no module.exports)")
	}
	readme := readText(t, filepath.Join(wechatExample, "README.md"))
	for _, s := range []string{"合法域名", "X-HTTP-Method-Override", "public-url", "app.js"} {
		if !strings.Contains(readme, s) {
			t.Errorf("examples/wechat-miniprogram/README.md does not mention %s", s)
		}
	}
	if !strings.Contains(readText(t, "../../README.md"), "examples/wechat-miniprogram") {
		t.Error("README.md does not link examples/wechat-miniprogram")
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readText(t, p)), v); err != nil {
		t.Errorf("%s: %v", p, err)
	}
}

// versionAtLeast reports whether a dotted version is >= major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var a, b int
	for i, part := range strings.SplitN(v, ".", 3) {
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		switch i {
		case 0:
			a = n
		case 1:
			b = n
		}
	}
	return a > major || (a == major && b >= minor)
}

// stripJSComments drops // line comments and /* */ blocks (good enough for
// the example's code, which has no "//" inside strings but URLs in
// comments).
func stripJSComments(s string) string {
	s = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(s, "")
	return regexp.MustCompile(`(?m)(^|[^:'"])//.*$`).ReplaceAllString(s, "$1")
}
