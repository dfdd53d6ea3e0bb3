package main

import (
	"os"
	"reflect"
	"regexp"
	"testing"
)

// TestExampleConfigDocumentsEveryKey keeps configs/ in step with Config:
// the example YAML must set every key to its default (credentials are
// commented out) and name its environment variable, and env.example must
// list every variable.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	yml, err := os.ReadFile("../../configs/gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("../../configs/env.example")
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	if err := decodeYAML(yml, &got); err != nil {
		t.Fatalf("example YAML: %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("example YAML does not state the defaults:\n got  %+v\n want %+v", got, want)
	}
	for _, k := range keys() {
		keyLine := `(?m)^` + regexp.QuoteMeta(k.name) + `: `
		envName := EnvName(k.name)
		if !k.flag {
			keyLine = `(?m)^# ` + regexp.QuoteMeta(k.name) + `: `
			envName = ""
		}
		if !regexp.MustCompile(keyLine).Match(yml) {
			t.Errorf("gateway.example.yaml lacks key %s", k.name)
		}
		if envName == "" {
			continue
		}
		if !regexp.MustCompile(`(?m)^# env ` + envName + `\b`).Match(yml) {
			t.Errorf("gateway.example.yaml does not name %s", envName)
		}
		if !regexp.MustCompile(`(?m)^# ` + envName + `=`).Match(env) {
			t.Errorf("env.example lacks %s", envName)
		}
	}
	for _, v := range []string{EnvAccessKeyID, EnvAccessKeySecret, EnvSecurityToken, EnvConfig} {
		if !regexp.MustCompile(`(?m)^#? ?` + v + `=`).Match(env) {
			t.Errorf("env.example lacks %s", v)
		}
	}
}
