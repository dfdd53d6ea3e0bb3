package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployDocs parses every YAML document of path into generic values.
func deployDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// get walks m along keys (map keys, or list indexes given as ints).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// checkEnvNames fails for every VODGATE_* name in env that is not a
// configuration key's variable (or VODGATE_CONFIG), and returns the values.
func checkEnvNames(t *testing.T, file string, env map[string]any) map[string]string {
	t.Helper()
	valid := map[string]bool{"VODGATE_CONFIG": true}
	for _, k := range keys() {
		valid[EnvName(k.name)] = true
	}
	out := map[string]string{}
	for name, v := range env {
		out[name], _ = v.(string)
		if strings.HasPrefix(name, "VODGATE_") && !valid[name] {
			t.Errorf("%s: %s is not a gateway configuration variable", file, name)
		}
	}
	return out
}

// TestDeployFiles checks deploy/compose.yaml and deploy/kubernetes against
// the gateway: VODGATE_* names are real configuration keys, the values
// load, the listen port is the one the containers and probes use, and the
// probes use /readyz and /healthz. (No docker engine or kubectl here.)
func TestDeployFiles(t *testing.T) {
	// compose
	compose := deployDocs(t, "../../deploy/compose.yaml")[0]
	for _, svc := range []string{"gateway", "gateway-dev"} {
		env, _ := get(compose, "services", svc, "environment").(map[string]any)
		vals := checkEnvNames(t, "compose.yaml "+svc, env)
		if vals["VODGATE_LISTEN"] != "0.0.0.0:8080" {
			t.Errorf("compose %s: VODGATE_LISTEN = %q, want 0.0.0.0:8080 (the published port)", svc, vals["VODGATE_LISTEN"])
		}
		if p := get(compose, "services", svc, "ports", 0); p != "8080:8080" {
			t.Errorf("compose %s: ports[0] = %v", svc, p)
		}
	}
	if get(compose, "services", "redis") == nil {
		t.Error("compose: no redis service")
	}

	// kubernetes
	kinds := map[string]map[string]any{}
	files, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	for _, f := range files {
		for _, d := range deployDocs(t, f) {
			kind, _ := d["kind"].(string)
			kinds[kind] = d
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} {
		if kinds[k] == nil {
			t.Errorf("kubernetes: no %s", k)
		}
	}
	cm, _ := get(kinds["ConfigMap"], "data").(map[string]any)
	vals := checkEnvNames(t, "configmap.yaml", cm)

	// The ConfigMap's values load as the gateway's configuration.
	env := map[string]string{}
	for k, v := range vals {
		env[k] = v
	}
	cfg, _, err := Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, os.ReadFile, io.Discard)
	if err != nil {
		t.Fatalf("configmap values do not load: %v", err)
	}
	_, port, _ := strings.Cut(cfg.Listen, ":")

	c := get(kinds["Deployment"], "spec", "template", "spec", "containers", 0)
	if cp := get(c, "ports", 0, "containerPort"); cp == nil || port == "" || cp != mustAtoi(t, port) {
		t.Errorf("deployment containerPort %v, listen %q", cp, cfg.Listen)
	}
	portName := get(c, "ports", 0, "name")
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if p := get(c, probe, "httpGet", "path"); p != path {
			t.Errorf("%s path %v, want %s", probe, p, path)
		}
		if p := get(c, probe, "httpGet", "port"); p != portName && p != mustAtoi(t, port) {
			t.Errorf("%s port %v, want %v", probe, p, portName)
		}
	}
	if get(c, "lifecycle", "preStop") == nil {
		t.Error("deployment: no preStop")
	}
	grace, _ := get(kinds["Deployment"], "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	sleep, _ := get(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if float64(grace) <= float64(sleep)+cfg.ShutdownTimeout.Seconds() {
		t.Errorf("terminationGracePeriodSeconds %d must exceed preStop sleep %d + shutdown-timeout %s", grace, sleep, cfg.ShutdownTimeout)
	}
	if tp := get(kinds["Service"], "spec", "ports", 0, "targetPort"); tp != portName {
		t.Errorf("service targetPort %v, want %v", tp, portName)
	}
	sel := get(kinds["Deployment"], "spec", "template", "metadata", "labels", "app")
	for _, k := range []string{"Service", "PodDisruptionBudget"} {
		s := get(kinds[k], "spec", "selector")
		if k == "PodDisruptionBudget" {
			s = get(s, "matchLabels")
		}
		if get(s, "app") != sel {
			t.Errorf("%s selector %v does not select app=%v", k, s, sel)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("port %q", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}
