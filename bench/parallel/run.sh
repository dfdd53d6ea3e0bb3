#!/usr/bin/env bash
# Parallel-upload benchmark: tus-js-client (Node) -> gateway -dev (in-process
# OSS/VOD simulators + embedded Redis). Uploads one file as a single stream
# (one PATCH) and with parallelUploads (tus concatenation into one VOD media),
# checks that the simulated OSS object has the source's SHA-256 and that the
# VOD simulator made one media per upload, and prints a markdown table.
#
#   bash bench/parallel/run.sh                  # 1 GiB, single stream and 4 partials
#   bash bench/parallel/run.sh --size-mib 256   # another size
#   bash bench/parallel/run.sh --parallel 8     # another partial count
#   bash bench/parallel/run.sh --smoke          # 4 MiB
#
# Environment: GATEWAY_BIN (skip the build), BENCH_OUT (also write the table
# to this file), BENCH_KEEP=1 (keep the scratch dir with the logs).
#
# Both cases read the source into a Buffer first (tus-js-client opens a
# Buffer synchronously, so its partials are created in index order; see the
# README's "Parallel uploads" section), so the figures compare the same
# client work.
set -euo pipefail

size_mib=1024
parallel=4
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) size_mib=4 ;;
	--size-mib) size_mib="$2"; shift ;;
	--parallel) parallel="$2"; shift ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
tusjs="$root/internal/e2e/js/tus-upload.mjs"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vodgate-bench-par.XXXXXX")"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
make_source "$size_mib"

rows=()

# run_case NAME PARALLEL (1 = single stream)
run_case() {
	local name="$1" par="$2"
	start_dev_gateway "$par"

	local opts out
	opts="$(node -e 'const [e,f,p]=process.argv.slice(1);const m={filename:"bench.mp4",title:"bench"};
const o={endpoint:e,file:f,sourceBuffer:true,metadata:m,retryDelays:[]};
if(+p>1){o.parallelUploads=+p;o.metadataForPartialUploads={...m,vodGroup:"bench-"+Date.now()}}
console.log(JSON.stringify(o))' "http://127.0.0.1:$gw_port/files/" "$src" "$par")"
	out="$(node "$tusjs" "$opts" | tail -n 1)" || die "upload $name failed: $out"

	local hwm_kb
	hwm_kb="$(awk '/^VmHWM:/{print $2}' "/proc/$gw_pid/status")"
	check_source_object "$name"
	local nobj
	nobj="$(grep -Eo '"sha256"' <<<"$objects" | wc -l)"
	[ "$nobj" = 1 ] || die "upload $name: $nobj objects in the simulator, want 1"

	stop_dev_gateway

	local ms
	ms="$(node -e 'const r=JSON.parse(process.argv[1]);if(!r.ok){console.error(r.error);process.exit(1)}console.log(r.ms)' "$out")" \
		|| die "upload $name failed: $out"
	rows+=("$(awk -v n="$name" -v s="$size_mib" -v ms="$ms" -v h="$hwm_kb" 'BEGIN{
		sec = ms / 1000; if (sec <= 0) sec = 0.001
		printf "| %s | %d | %.2f | %.1f | %.1f |", n, s, sec, s / sec, h / 1024 }')")
}

run_case "single stream (one PATCH)" 1
run_case "parallelUploads: $parallel" "$parallel"

table="$(
	echo "| upload | MiB | seconds | MiB/s | gateway peak RSS (MiB) |"
	echo "|---|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "gateway -dev at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), tus-js-client $(node -p 'require("./node_modules/tus-js-client/package.json").version'), node $(node --version), $(nproc) CPUs, $(uname -sr)"
)"
echo "$table"
if [ -n "${BENCH_OUT:-}" ]; then echo "$table" >"$BENCH_OUT"; fi
