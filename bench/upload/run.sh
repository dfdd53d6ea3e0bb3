#!/usr/bin/env bash
# Upload benchmark: tus-js-client (Node) -> gateway -dev (in-process OSS/VOD
# simulators + embedded Redis). Uploads one file in a single PATCH and in
# chunks, each without and with OpenTelemetry tracing (OTLP over HTTP to a
# local receiver that counts the export requests), checks that the simulated
# OSS object has the source's SHA-256, and prints a markdown table with
# throughput and the gateway's peak RSS (VmHWM).
#
#   bash bench/upload/run.sh                 # 1 GiB, one PATCH and 8 MiB chunks
#   bash bench/upload/run.sh --size-mib 256  # another size
#   bash bench/upload/run.sh --smoke         # 4 MiB, what bash .ci/test runs
#
# Environment: GATEWAY_BIN (skip the build), BENCH_CHUNK_MIB (default 8),
# BENCH_OUT (also write the table to this file), BENCH_KEEP=1 (keep the
# scratch dir with the logs).
#
# Peak RSS is that of the whole -dev process, simulators and embedded Redis
# included; the simulated OSS keeps its bytes on disk (-dev-data-dir), so the
# figure is dominated by the gateway's part buffers.
set -euo pipefail

size_mib=1024
chunk_mib="${BENCH_CHUNK_MIB:-8}"
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) size_mib=4; chunk_mib=1 ;;
	--size-mib) size_mib="$2"; shift ;;
	--chunk-mib) chunk_mib="$2"; shift ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
tusjs="$root/internal/e2e/js/tus-upload.mjs"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vodgate-bench.XXXXXX")"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
make_source "$size_mib"

rows=()

# otlp_sink PORT COUNTFILE: a background OTLP/HTTP receiver that answers
# 200 to every POST /v1/traces and writes how many it got into COUNTFILE.
extra_pid=""
otlp_sink() {
	node -e 'const [p,f]=process.argv.slice(1);let n=0;require("fs").writeFileSync(f,"0");
require("http").createServer((q,r)=>{q.resume();q.on("end",()=>{if(q.url==="/v1/traces"){n++;require("fs").writeFileSync(f,String(n))}
r.writeHead(200,{"Content-Type":"application/x-protobuf"});r.end()})}).listen(+p,"127.0.0.1")' "$1" "$2" &
	extra_pid=$!
}

# run_case NAME CHUNK_BYTES (0 = one PATCH) TRACING (0 or 1)
run_case() {
	local name="$1" chunk="$2" tracing="${3:-0}"
	local trace_env=() otlp_count="$tmp/otlp-$name.count"
	if [ "$tracing" = 1 ]; then
		local otlp_port
		otlp_port="$(free_port)"
		otlp_sink "$otlp_port" "$otlp_count"
		trace_env=(VODGATE_TRACING=true OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port"
			OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_BSP_SCHEDULE_DELAY=200)
	fi

	start_dev_gateway "$name" "${trace_env[@]}"

	local opts out
	opts="$(node -e 'const [e,f,c]=process.argv.slice(1);const o={endpoint:e,file:f,metadata:{filename:"bench.mp4",title:"bench"},retryDelays:[]};if(+c>0)o.chunkSize=+c;console.log(JSON.stringify(o))' \
		"http://127.0.0.1:$gw_port/files/" "$src" "$chunk")"
	out="$(node "$tusjs" "$opts" | tail -n 1)" || die "upload $name failed: $out"

	local hwm_kb rss_kb
	hwm_kb="$(awk '/^VmHWM:/{print $2}' "/proc/$gw_pid/status")"
	rss_kb="$(awk '/^VmRSS:/{print $2}' "/proc/$gw_pid/status")"

	# The object in the simulated OSS must be the source.
	check_source_object "$name"

	stop_dev_gateway
	local exports="-"
	if [ "$tracing" = 1 ]; then
		exports="$(cat "$otlp_count")"
		kill "$extra_pid" 2>/dev/null || true
		wait "$extra_pid" 2>/dev/null || true
		extra_pid=""
		[ "$exports" -gt 0 ] || die "upload $name: tracing on, but no OTLP export reached the receiver"
	fi

	local ms
	ms="$(node -e 'const r=JSON.parse(process.argv[1]);if(!r.ok){console.error(r.error);process.exit(1)}console.log(r.ms)' "$out")" \
		|| die "upload $name failed: $out"
	rows+=("$(awk -v n="$name" -v s="$size_mib" -v ms="$ms" -v h="$hwm_kb" -v r="$rss_kb" -v x="$exports" 'BEGIN{
		sec = ms / 1000; if (sec <= 0) sec = 0.001
		printf "| %s | %d | %.2f | %.1f | %.1f | %.1f | %s |", n, s, sec, s / sec, h / 1024, r / 1024, x }')")
}

run_case "one PATCH" 0
run_case "one PATCH, tracing" 0 1
run_case "${chunk_mib} MiB chunks" "$((chunk_mib * 1048576))"
run_case "${chunk_mib} MiB chunks, tracing" "$((chunk_mib * 1048576))" 1

table="$(
	echo "| upload | MiB | seconds | MiB/s | gateway peak RSS (MiB) | RSS at end (MiB) | OTLP exports |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "gateway -dev at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), tus-js-client $(node -p 'require("./node_modules/tus-js-client/package.json").version'), node $(node --version), $(nproc) CPUs, $(uname -sr)"
)"
echo "$table"
if [ -n "${BENCH_OUT:-}" ]; then echo "$table" >"$BENCH_OUT"; fi
