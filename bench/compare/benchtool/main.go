// Command benchtool runs bench/compare: it starts the servers under test
// (the gateway, tusd v2.9.1 with its S3 store and with its file store, and
// a discarding tus endpoint as the client ceiling) against one shared
// multipart sink (bench/sink), drives identical tus-js-client workloads and
// wrk creation load against each, samples every server's peak RSS, temp
// disk and CPU time, and prints one markdown table. bench/compare/run.sh
// builds everything and calls it; see bench/README.md.
//
//	benchtool run [flags]        the whole comparison (see -h)
//	benchtool table RESULTS      re-render the table from a results.jsonl
//	benchtool vodsim -addr-file F    (internal) run the VOD and OSS simulators
//	benchtool wanproxy -target H:P   (internal) run the WAN link proxy (bench/wan)
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: benchtool run|table|vodsim|wanproxy [flags]")
		return 2
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "table":
		return tableCmd(args[1:], stdout, stderr)
	case "vodsim":
		return vodsimCmd(args[1:], stdout, stderr)
	case "wanproxy":
		return wanproxyCmd(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "benchtool: unknown command %q\n", args[0])
		return 2
	}
}
