package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/vodgate/vodgate"

// Import path prefixes of third-party code the rules mention.
const (
	aliyunOSS   = "github.com/aliyun/aliyun-oss-go-sdk"
	aliyunVOD   = "github.com/alibabacloud-go"
	aliyunCreds = "github.com/aliyun/credentials-go"
	goRedis     = "github.com/redis/go-redis"
	miniredis   = "github.com/alicebob/miniredis"
	tusd        = "github.com/tus/tusd"
	otelSDK     = "go.opentelemetry.io/otel/sdk"
	otelExport  = "go.opentelemetry.io/otel/exporters"
	quicGo      = "github.com/quic-go"
	certmagic   = "github.com/caddyserver/certmagic"
)

// Module packages.
const (
	cmd        = mod + "/cmd"
	server     = mod + "/internal/server"
	auth       = mod + "/internal/auth"
	limits     = mod + "/internal/limits"
	devstack   = mod + "/internal/devstack"
	e2e        = mod + "/internal/e2e"
	osstest    = mod + "/internal/osstest"
	vodtest    = mod + "/internal/vodtest"
	testenv    = mod + "/internal/testenv"
	redisstate = mod + "/internal/redisstate"
	tusstore   = mod + "/tusstore"
	vodbridge  = mod + "/vodbridge"
	locker     = mod + "/locker"
	bench      = mod + "/bench"
	userdata   = mod + "/internal/userdata"
	uploadlist = mod + "/internal/uploadlist"
	uploadapi  = mod + "/internal/uploadapi"
	reaper     = mod + "/internal/reaper"
	idem       = mod + "/internal/idempotency"
	events     = mod + "/internal/events"
	vodcb      = mod + "/internal/vodcallback"
	vodquota   = mod + "/internal/vodquota"
	leasePkg   = mod + "/internal/lease"
	urljobs    = mod + "/internal/urljobs"
	devpage    = mod + "/internal/devpage"
	tracing    = mod + "/internal/tracing"
	edge       = mod + "/internal/edge"
	acmePkg    = mod + "/internal/acme"
	checksum   = mod + "/internal/checksum"
	resumable  = mod + "/internal/resumable"
	concatgrp  = mod + "/internal/concatgroup"
)

// forbid says that packages under pkg must not depend on anything under the
// deny prefixes: through their whole non-test dependency graph; or, with
// direct set, in their own imports including test imports; or, with
// imports set, in their own non-test imports only (for what a package may
// reach through another but must not use itself).
type forbid struct {
	pkg     string
	deny    []string
	direct  bool
	imports bool
	why     string
}

var forbidden = []forbid{
	{pkg: server, deny: []string{aliyunOSS, aliyunVOD, aliyunCreds, goRedis, tusstore, vodbridge, locker, redisstate, osstest, vodtest},
		why: "the HTTP layer gets a StoreComposer, a MediaLookup and Pingers; it knows no cloud SDK, no Redis client and no backend"},
	{pkg: tusstore, deny: []string{locker, goRedis, cmd, server, redisstate, osstest, vodtest, devstack},
		why: "the DataStore talks to Redis only through its Records and Fencer interfaces"},
	{pkg: vodbridge, deny: []string{tusd, tusstore, locker, aliyunOSS, goRedis, redisstate, osstest, vodtest},
		why: "the VOD client knows nothing of tus, OSS or Redis"},
	{pkg: locker, deny: []string{tusstore, vodbridge, aliyunOSS, aliyunVOD, redisstate, osstest, vodtest},
		why: "the locker is a generic handler.Locker on Redis"},
	{pkg: redisstate, deny: []string{locker, vodbridge, aliyunOSS, aliyunVOD, tusstore, osstest, vodtest},
		why: "upload records are a Redis schema only"},
	{pkg: osstest, deny: []string{tusstore, vodbridge, locker, redisstate, server, aliyunOSS, aliyunVOD},
		why: "the OSS simulator shares no code with the clients it tests"},
	{pkg: vodtest, deny: []string{tusstore, vodbridge, locker, redisstate, server, aliyunOSS, aliyunVOD},
		why: "the VOD simulator shares no code with the clients it tests"},
	{pkg: auth, deny: []string{locker, goRedis, miniredis, redisstate, limits, server, cmd, devstack, osstest, vodtest},
		why: "authentication verifies tokens and hands the store a tusstore.Caller; it keeps no state in Redis and knows neither the limits nor the HTTP wiring"},
	{pkg: auth, deny: []string{vodbridge, aliyunOSS, aliyunVOD, aliyunCreds}, imports: true,
		why: "authentication uses tusstore for the Caller type only; it makes no VOD or OSS call"},
	{pkg: limits, deny: []string{tusstore, auth, vodbridge, locker, redisstate, server, cmd, devstack, osstest, vodtest,
		aliyunOSS, aliyunVOD, aliyunCreds, miniredis},
		why: "limits are generic tus middleware on Redis counters: they learn the owner through a function and know nothing of tokens, the store, VOD or OSS"},
	{pkg: userdata, deny: []string{mod + "/cmd", mod + "/internal/server", mod + "/internal/auth", mod + "/internal/limits", tusstore, vodbridge, locker, redisstate,
		osstest, vodtest, tusd, goRedis, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the userData policy is a pure function of the client's value and the configuration"},
	{pkg: uploadlist, deny: []string{cmd, server, auth, limits, locker, vodbridge, redisstate, uploadapi, reaper,
		aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest}, imports: true,
		why: "the upload list is a Redis index; it learns progress through its Live interface (tusstore's types only)"},
	{pkg: uploadapi, deny: []string{goRedis, tusstore, locker, vodbridge, redisstate, auth, server, cmd, reaper,
		aliyunOSS, aliyunVOD, aliyunCreds}, direct: true,
		why: "the upload API is HTTP over the list's interface; cancellation, media deletion and identity come in as functions"},
	{pkg: reaper, deny: []string{cmd, server, auth, limits, uploadapi, locker, vodbridge, redisstate,
		aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest}, imports: true,
		why: "the reaper walks the list under a Redis lease and reaps through a function; it knows no HTTP, VOD or OSS"},
	{pkg: idem, deny: []string{tusstore, cmd, server, auth, limits, locker, vodbridge, redisstate, uploadapi, uploadlist, reaper,
		tusd, aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest},
		why: "idempotent creation is HTTP middleware on Redis; the store's reference and progress come in as functions"},
	{pkg: devpage, deny: []string{mod + "/cmd", server, auth, limits, devstack, tusstore, vodbridge, locker, redisstate,
		userdata, osstest, vodtest, tusd, goRedis, miniredis, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the -dev page is static files and one HTTP GET to the VOD simulator's inspection API; it knows neither tus nor the gateway"},
	{pkg: tracing, deny: []string{mod + "/cmd", server, auth, limits, devstack, devpage, tusstore, vodbridge, locker, redisstate,
		userdata, osstest, vodtest, tusd, miniredis, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "tracing is the OpenTelemetry SDK, an HTTP middleware and a go-redis hook; it knows nothing of the gateway's parts"},
	{pkg: tusstore, deny: []string{otelSDK, otelExport, tracing},
		why: "libraries make spans through the otel trace API and a TracerProvider in their Config; only internal/tracing knows the SDK"},
	{pkg: vodbridge, deny: []string{otelSDK, otelExport, tracing},
		why: "libraries make spans through the otel trace API and a TracerProvider in their Config; only internal/tracing knows the SDK"},
	{pkg: locker, deny: []string{otelSDK, otelExport, tracing},
		why: "libraries make spans through the otel trace API and a TracerProvider in their Config; only internal/tracing knows the SDK"},
	{pkg: events, deny: []string{tusstore, cmd, server, auth, limits, locker, vodbridge, redisstate, uploadlist, uploadapi, reaper,
		idem, vodcb, tusd, aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest},
		why: "events are an outbox on a Redis stream and signed HTTP delivery; they know nothing of uploads but what they are given"},
	{pkg: vodcb, deny: []string{tusstore, cmd, server, auth, limits, locker, vodbridge, redisstate, uploadlist, uploadapi, reaper,
		idem, events, tusd, aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest},
		why: "the VOD callback relay checks VOD's signature and hands media events to a Notifier; the list comes in as functions"},
	{pkg: vodquota, deny: []string{mod + "/cmd", mod + "/internal", tusstore, vodbridge, locker, tusd,
		aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the VOD quota is a token bucket on Redis keyed by action name; vodbridge calls it through its Quota interface"},
	{pkg: leasePkg, deny: []string{mod + "/cmd", mod + "/internal", tusstore, vodbridge, locker, tusd, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "a lease is a Redis key with a token; it knows nothing of what it guards"},
	{pkg: edge, deny: []string{mod + "/cmd", mod + "/internal/server", mod + "/internal/auth", mod + "/internal/limits", devstack, tusstore, vodbridge,
		locker, redisstate, osstest, vodtest, tusd, goRedis, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the edge is transport only (listener, TLS, HTTP/1.1, HTTP/2, HTTP/3): it serves whatever handler it is given, so every protocol gets the same chain"},
	{pkg: acmePkg, deny: []string{mod + "/cmd", mod + "/internal/server", edge, mod + "/internal/auth", mod + "/internal/limits", devstack, tusstore,
		vodbridge, locker, redisstate, osstest, vodtest, tusd, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "ACME is certificates only: it hands the edge a GetCertificate and keeps its state in a Storage"},
	{pkg: urljobs, deny: []string{cmd, server, auth, limits, locker, redisstate, tusstore, uploadlist, uploadapi, reaper, idem, events,
		vodcb, tusd, aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest}, imports: true,
		why: "URL jobs are a small HTTP API over vodbridge's URL calls and a Redis hash per job"},
	{pkg: checksum, deny: []string{mod + "/cmd", mod + "/internal/server", mod + "/internal/auth", mod + "/internal/limits", tusstore, vodbridge,
		locker, redisstate, osstest, vodtest, goRedis, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the checksum extension is HTTP middleware that hashes bodies; the store's hold-until-verified comes in as a function (tusstore.WithBodyCheck)"},
	{pkg: resumable, deny: []string{cmd, server, auth, limits, devstack, tusstore, vodbridge, locker, redisstate, goRedis,
		aliyunOSS, aliyunVOD, aliyunCreds, osstest, vodtest},
		why: "the IETF draft layer is HTTP middleware in front of tusd; upload state comes in through its Uploads interface"},
	{pkg: concatgrp, deny: []string{mod + "/cmd", mod + "/internal", tusstore, vodbridge, locker, tusd, aliyunOSS, aliyunVOD, aliyunCreds},
		why: "the concatenation sequencer numbers partial creations on arrival (a ticket, then a Redis INCR); tusstore calls it through its Groups interface"},
	{pkg: e2e, deny: []string{cmd, server, devstack, redisstate, tusstore, vodbridge, locker, auth, limits}, direct: true,
		why: "end-to-end tests drive the built binary; of the module they use only the simulators and testenv"},
}

// onlyFrom says that non-test imports of target may only come from the
// listed packages (and their subpackages) or from target itself; test
// imports are always allowed.
type onlyFrom struct {
	target string
	allow  []string
	why    string
}

var restricted = []onlyFrom{
	{target: osstest, allow: []string{devstack, e2e, vodtest, bench},
		why: "simulators run only in -dev (devstack), tests and benchmark tools"},
	{target: vodtest, allow: []string{devstack, e2e, bench},
		why: "simulators run only in -dev (devstack), tests and benchmark tools"},
	{target: miniredis, allow: []string{devstack, bench},
		why: "the embedded Redis is a -dev and test convenience"},
	{target: auth, allow: []string{cmd},
		why: "authentication is wired around the tus handler in cmd/gateway; other packages see only a tusstore.Caller"},
	{target: userdata, allow: []string{cmd},
		why: "the policy is wired into the server's client-metadata check in cmd/gateway"},
	{target: uploadapi, allow: []string{cmd},
		why: "the upload API is mounted on the server's routes in cmd/gateway"},
	{target: idem, allow: []string{cmd},
		why: "the middleware is wired into the tus chain in cmd/gateway"},
	{target: events, allow: []string{cmd},
		why: "the outbox and dispatcher are wired in cmd/gateway; the list and the relay get a Notifier"},
	{target: vodcb, allow: []string{cmd},
		why: "the relay is mounted on the server's routes in cmd/gateway"},
	{target: vodquota, allow: []string{cmd},
		why: "the quota is handed to vodbridge in cmd/gateway"},
	{target: urljobs, allow: []string{cmd},
		why: "the URL-upload API is mounted in cmd/gateway"},
	{target: reaper, allow: []string{cmd},
		why: "the reaper runs beside the server, started in cmd/gateway"},
	{target: devpage, allow: []string{cmd},
		why: "the page is mounted by cmd/gateway, only with -dev or demo-page"},
	{target: tracing, allow: []string{cmd},
		why: "tracing is set up and wired in cmd/gateway; libraries get a TracerProvider"},
	{target: otelSDK, allow: []string{tracing},
		why: "only internal/tracing builds the SDK (tests may use its in-memory exporter)"},
	{target: otelExport, allow: []string{tracing},
		why: "only internal/tracing builds the OTLP exporter"},
	{target: checksum, allow: []string{cmd},
		why: "the checksum middleware is wired into the tus chain in cmd/gateway"},
	{target: limits, allow: []string{cmd},
		why: "limits are wired around the tus handler in cmd/gateway"},
	{target: concatgrp, allow: []string{cmd},
		why: "the sequencer is wired in cmd/gateway: its middleware outermost, its Join handed to tusstore as Groups"},
	{target: edge, allow: []string{cmd},
		why: "the edge is wired in cmd/gateway as the server's Transport"},
	{target: resumable, allow: []string{cmd},
		why: "the draft layer is wired into the tus chain in cmd/gateway"},
	{target: acmePkg, allow: []string{cmd},
		why: "ACME is wired in cmd/gateway as the edge's certificate source"},
	{target: certmagic, allow: []string{acmePkg},
		why: "certmagic (and its zap logging) stays inside internal/acme"},
	{target: quicGo, allow: []string{edge, bench},
		why: "QUIC and HTTP/3 live in internal/edge (and benchmark clients), so no other package serves or speaks a protocol of its own"},
}

// pkgInfo is the part of `go list -json` output the rules need.
type pkgInfo struct {
	ImportPath   string
	Standard     bool
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func underAny(path string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return under(path, p) })
}

// violations applies the rules to pkgs and returns one line per violation.
func violations(pkgs []pkgInfo, forbidden []forbid, restricted []onlyFrom) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range forbidden {
			if !under(p.ImportPath, r.pkg) {
				continue
			}
			deps := p.Deps
			how := "depends on"
			switch {
			case r.direct:
				deps = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
				how = "imports"
			case r.imports:
				deps = p.Imports
				how = "imports"
			}
			for _, d := range deps {
				if underAny(d, r.deny) && !under(d, r.pkg) {
					out = append(out, p.ImportPath+" "+how+" "+d+": "+r.why)
				}
			}
		}
		for _, r := range restricted {
			if under(p.ImportPath, r.target) || underAny(p.ImportPath, r.allow) {
				continue
			}
			for _, d := range p.Imports {
				if under(d, r.target) {
					out = append(out, p.ImportPath+" imports "+d+": "+r.why)
				}
			}
		}
	}
	return out
}

func listModule(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Standard,Imports,Deps,TestImports,XTestImports", mod+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	pkgs := listModule(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.ImportPath] = true
	}
	for _, must := range []string{server, tusstore, vodbridge, devstack, auth, limits, e2e, edge, acmePkg, mod + "/cmd/gateway"} {
		if !seen[must] {
			t.Fatalf("go list did not report %s; the rules would check nothing", must)
		}
	}
	for _, v := range violations(pkgs, forbidden, restricted) {
		t.Error(v)
	}
}

// TestViolationsDetects checks the checker on a made-up module.
func TestViolationsDetects(t *testing.T) {
	pkgs := []pkgInfo{
		{ImportPath: tusstore, Deps: []string{vodbridge, redisstate, goRedis + "/v9"}},
		{ImportPath: tusstore + "/sub", Deps: []string{tusstore}},
		{ImportPath: mod + "/cmd/gateway", Imports: []string{devstack, osstest}},
		{ImportPath: devstack, Imports: []string{osstest, vodtest, miniredis + "/v2"}},
		{ImportPath: vodbridge, Imports: []string{"fmt"}, TestImports: []string{osstest}},
		{ImportPath: e2e, Imports: []string{osstest}, XTestImports: []string{tusstore}},
		// auth may reach vodbridge through tusstore, and its tests may use
		// anything, but it must not import vodbridge itself.
		{ImportPath: auth, Imports: []string{tusstore, vodbridge}, TestImports: []string{locker, osstest},
			Deps: []string{tusstore, vodbridge, aliyunVOD + "/vod-20170321/v4/client"}},
		{ImportPath: limits, Imports: []string{goRedis + "/v9"}, Deps: []string{goRedis + "/v9", tusstore}},
		{ImportPath: redisstate, Imports: []string{limits}, TestImports: []string{auth}},
		{ImportPath: mod + "/cmd/gateway/sub", Imports: []string{auth, limits}},
	}
	got := violations(pkgs, forbidden, restricted)
	want := []string{
		tusstore + " depends on " + redisstate,
		tusstore + " depends on " + goRedis + "/v9",
		mod + "/cmd/gateway imports " + osstest,
		e2e + " imports " + tusstore,
		auth + " imports " + vodbridge,
		limits + " depends on " + tusstore,
		redisstate + " imports " + limits,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+":") {
			t.Errorf("violation %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}
