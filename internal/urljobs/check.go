package urljobs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURLBytes is the longest source URL accepted.
const MaxURLBytes = 2048

// errBadURL is wrapped by every CheckURL error.
var errBadURL = errors.New("bad source url")

// CheckURL reports whether raw may be handed to VOD to pull: http or
// https, no user name or password, a host that is not a private,
// loopback, link-local, unspecified or multicast address (nor localhost),
// at most MaxURLBytes, and already percent-encoded (VOD's URL jobs fail
// on raw spaces, quotes and non-ASCII characters). Hosts in allow (exact
// host names or addresses) are exempt from the address rule only: an
// intranet source VOD can reach, or a test's.
func CheckURL(raw string, allow ...string) error {
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("%w: longer than %d bytes", errBadURL, MaxURLBytes)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}", c) >= 0 {
			return fmt.Errorf("%w: character %q must be percent-encoded", errBadURL, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme must be http or https", errBadURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: must not carry a user name or password", errBadURL)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return fmt.Errorf("%w: no host", errBadURL)
	}
	for _, a := range allow {
		if strings.EqualFold(strings.Trim(a, "[]"), host) {
			return nil
		}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: host %s is local", errBadURL, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !publicIP(ip) {
			return fmt.Errorf("%w: host %s is not a public address", errBadURL, host)
		}
	} else if ip := net.ParseIP(host); ip != nil || numericHost(host) {
		// Forms netip refuses but resolvers may take (0x7f.1, 2130706433).
		return fmt.Errorf("%w: host %s is not a plain public address", errBadURL, host)
	}
	return nil
}

// numericHost reports whether every label of host is a number (decimal,
// octal or 0x hex): an address in a form some resolvers accept. No real
// domain name has an all-numeric top-level label.
func numericHost(host string) bool {
	for _, l := range strings.Split(host, ".") {
		digits := strings.TrimPrefix(l, "0x")
		if digits == "" && l != "0x" {
			return false
		}
		for _, c := range digits {
			if !(c >= '0' && c <= '9' || l != digits && c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func publicIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) && !netip.MustParsePrefix("fc00::/7").Contains(ip)
}
