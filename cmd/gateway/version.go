package main

import (
	"net"
	"runtime/debug"
	"strings"
)

// version describes the build: the module version and, when the binary was
// built from a VCS checkout, the revision (with "+dirty" for local edits).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v + " " + bi.GoVersion
}

// tusURL is the tus endpoint for a listen address, with unspecified hosts
// (0.0.0.0, ::) shown as loopback.
func tusURL(addr, basePath string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + basePath
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if !strings.HasSuffix(basePath, "/") {
		basePath += "/"
	}
	return "http://" + net.JoinHostPort(host, port) + basePath
}
