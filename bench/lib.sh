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
