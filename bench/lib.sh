# Shared by bench/upload/run.sh and bench/parallel/run.sh; source it from
# the repository root after setting tmp (the scratch dir). It provides
# die, a cleanup trap that stops the gateway ($gw_pid) and any process in
# $extra_pid, shows the gateways' log tails on failure and removes $tmp
# unless BENCH_KEEP=1; checks node and tus-js-client; builds the gateway
# unless GATEWAY_BIN is set (sets bin); free_port, http_status; and
# make_source MIB (random data in $src, its SHA-256 in $src_sha).

gw_pid=""
extra_pid=""
cleanup() {
	local rc=$?
	if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
		kill -TERM "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	if [ -n "$extra_pid" ]; then kill "$extra_pid" 2>/dev/null || true; fi
	if [ "$rc" != 0 ]; then
		for f in "$tmp"/gateway-*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (tail) ---" >&2
			tail -n 30 "$f" >&2 || true
		done
	fi
	if [ "${BENCH_KEEP:-}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "run.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found"
[ -f node_modules/tus-js-client/package.json ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null

bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
	echo "building gateway..." >&2
	go build -o "$tmp/gateway" ./cmd/gateway
	bin="$tmp/gateway"
fi

free_port() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# http_status URL: prints the HTTP status code of a GET, or 000.
http_status() {
	node -e 'fetch(process.argv[1]).then(r=>console.log(r.status),()=>console.log("000"))' "$1"
}

# make_source MIB: MIB MiB of random data in $src, its SHA-256 in $src_sha.
make_source() {
	src="$tmp/source.bin"
	echo "generating $1 MiB of random data..." >&2
	head -c "$(($1 * 1048576))" /dev/urandom >"$src"
	src_sha="$(sha256sum "$src" | cut -d' ' -f1)"
}

# start_dev_gateway NAME [VAR=VALUE...]: starts "$bin -dev" on free loopback
# ports with the extra environment, its data in $tmp/devdata-NAME and its
# log in $tmp/gateway-NAME.log, and waits until /readyz answers 200. Sets
# gw_pid, gw_port (the tus endpoint's), gw_oss_port (the OSS simulator's)
# and gw_data.
start_dev_gateway() {
	local name="$1"
	shift
	local vod_port redis_port log i
	gw_port="$(free_port)"
	gw_oss_port="$(free_port)"
	vod_port="$(free_port)"
	redis_port="$(free_port)"
	gw_data="$tmp/devdata-$name"
	log="$tmp/gateway-$name.log"
	mkdir -p "$gw_data"
	env "$@" VODGATE_LISTEN="127.0.0.1:$gw_port" VODGATE_DEV_DATA_DIR="$gw_data" \
		VODGATE_DEV_OSS_LISTEN="127.0.0.1:$gw_oss_port" VODGATE_DEV_VOD_LISTEN="127.0.0.1:$vod_port" \
		VODGATE_DEV_REDIS_LISTEN="127.0.0.1:$redis_port" VODGATE_LOG_LEVEL=warn \
		"$bin" -dev >"$log" 2>&1 &
	gw_pid=$!
	for i in $(seq 1 200); do
		[ "$(http_status "http://127.0.0.1:$gw_port/readyz")" = 200 ] && break
		kill -0 "$gw_pid" 2>/dev/null || die "gateway -dev exited early (see $log)"
		sleep 0.1
	done
	[ "$(http_status "http://127.0.0.1:$gw_port/readyz")" = 200 ] || die "gateway -dev not ready on :$gw_port"
}

# check_source_object NAME: the OSS simulator of the running gateway must
# hold an object with the source's SHA-256; sets objects (its object list).
check_source_object() {
	objects="$(node -e 'fetch(process.argv[1]).then(r=>r.text()).then(t=>console.log(t),e=>{console.error(e);process.exit(1)})' \
		"http://127.0.0.1:$gw_oss_port/_sim/objects")"
	grep -Eq "\"sha256\": *\"$src_sha\"" <<<"$objects" || die "upload $1: no object with the source's SHA-256 in the simulator: $objects"
}

# stop_dev_gateway: stops the gateway start_dev_gateway started and removes
# its data.
stop_dev_gateway() {
	kill -TERM "$gw_pid" 2>/dev/null || true
	wait "$gw_pid" 2>/dev/null || true
	gw_pid=""
	rm -rf "$gw_data"
}
