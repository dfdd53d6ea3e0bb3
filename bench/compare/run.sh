#!/usr/bin/env bash
# Side-by-side benchmark: the gateway vs tusd v2.9.1 (S3 store and file
# store) vs the client ceiling, on one machine, in one run, against one
# shared multipart sink (bench/sink). Prints one markdown table.
#
#   bash bench/compare/run.sh            # full run: 1 GiB cases, 3 repetitions (~25 min)
#   bash bench/compare/run.sh -smoke     # a few MiB, 1 repetition, < 1 min (CI)
#   bash bench/compare/run.sh -cases one-patch,chunked -servers gateway,tusd-s3 -reps 1
#   bash bench/compare/run.sh -cases c50,c500 -warm all            # fresh and warm processes
#   bash bench/compare/run.sh -cases wan-one-patch,wan-chunked -servers gateway,tusd-s3 \
#       -wan-rtt 30ms -wan-bw 50MiB -gateway-args "-oss-parallel-parts 4"
#
# Any other flag goes to benchtool run (bash bench/compare/run.sh -h lists them).
# Environment: GATEWAY_BIN / TUSD_BIN (prebuilt binaries), BENCH_OUT (also
# write the table here), BENCH_RESULTS (also copy the per-run JSON lines
# here), BENCH_KEEP=1 (keep the scratch dir with every server's log),
# VODGATE_BENCH_CACHE (where tusd is installed; default ~/.cache/vodgate-bench).
#
# Needs go, node (npm ci is run if node_modules lacks tus-js-client),
# redis-server and wrk (apt-get install wrk is tried as root), and the Go
# module proxy the first time (go install github.com/tus/tusd/v2/cmd/tusd@v2.9.1).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
die() { echo "run.sh: $*" >&2; exit 1; }

args=()
smoke=0
profile=0
for a in "$@"; do
	case "$a" in
	-smoke | --smoke) smoke=1; args+=(-smoke) ;;
	-gateway-profile | --gateway-profile | -gateway-profile=* | --gateway-profile=*) profile=1; args+=("$a") ;;
	*) args+=("$a") ;;
	esac
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vodgate-compare.XXXXXX")"
cleanup() {
	local rc=$?
	rm -f "$tmp/work/source.bin"
	if [ "${BENCH_KEEP:-}" = 1 ] || { [ "$rc" != 0 ] && [ "$rc" != 130 ]; }; then
		echo "run.sh: scratch dir kept (server logs under work/): $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v go >/dev/null || die "go not found"
command -v node >/dev/null || die "node not found"
command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "run.sh: installing wrk (Debian package)..." >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } ||
			die "could not install wrk"
	else
		die "wrk not found (apt-get install wrk)"
	fi
fi
[ -f node_modules/tus-js-client/package.json ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null

# tusd v2.9.1 from the Go module proxy, built once into a cache dir (never committed).
tusd="${TUSD_BIN:-}"
if [ -z "$tusd" ]; then
	cache="${VODGATE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vodgate-bench}"
	tusd="$cache/tusd-v2.9.1/tusd"
	if [ ! -x "$tusd" ]; then
		echo "run.sh: go install github.com/tus/tusd/v2/cmd/tusd@v2.9.1 (once)..." >&2
		mkdir -p "$cache/tusd-v2.9.1"
		(cd "$tmp" && GOBIN="$cache/tusd-v2.9.1" GOFLAGS=-buildvcs=false go install github.com/tus/tusd/v2/cmd/tusd@v2.9.1) ||
			die "could not install tusd"
	fi
fi
tusd_version="$(go version -m "$tusd" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/tus/tusd/v2" {print $3}')"
[ "$tusd_version" = v2.9.1 ] || die "$tusd is not tusd v2.9.1 (go version -m says '${tusd_version}')"

echo "run.sh: building gateway, sink, benchtool..." >&2
gateway="${GATEWAY_BIN:-}"
if [ -z "$gateway" ]; then
	if [ "$profile" = 1 ]; then
		# Add bench/compare/pprof.go.in to package main for this build only.
		printf '{"Replace":{"%s":"%s"}}' "$root/cmd/gateway/zz_bench_pprof.go" "$root/bench/compare/pprof.go.in" >"$tmp/overlay.json"
		go build -overlay "$tmp/overlay.json" -o "$tmp/gateway" ./cmd/gateway
	else
		go build -o "$tmp/gateway" ./cmd/gateway
	fi
	gateway="$tmp/gateway"
fi
go build -o "$tmp/sink" ./bench/sink
go build -o "$tmp/benchtool" ./bench/compare/benchtool

if [ "$smoke" = 0 ]; then
	echo "run.sh: load average now: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (numbers are noisy if others use the machine)" >&2
fi

out="$tmp/table.md"
rc=0
"$tmp/benchtool" run -work "$tmp/work" -out "$out" \
	-gateway "$gateway" -tusd "$tusd" -sink "$tmp/sink" \
	-drive "$root/bench/compare/drive.mjs" -lua "$root/bench/compare/create.lua" \
	${args[@]+"${args[@]}"} || rc=$?
if [ -f "$out" ]; then
	{
		echo
		echo "gateway $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), tusd $tusd_version, tus-js-client $(node -p 'require("./node_modules/tus-js-client/package.json").version'), node $(node --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(uname -sr)"
	} >>"$out"
	[ -n "${BENCH_OUT:-}" ] && cp "$out" "$BENCH_OUT"
	[ -n "${BENCH_RESULTS:-}" ] && cp "$tmp/work/results.jsonl" "$BENCH_RESULTS"
	tail -n 1 "$out"
fi
exit "$rc"
