package tusstore

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
)

// checkPublicURL refuses URLs that VOD would fetch on the uploader's
// behalf but that must not name anything but a public web server: URLs
// with credentials in them, and hosts that are IP literals outside the
// public unicast space (loopback, private, link-local such as the cloud
// metadata address 169.254.169.254, multicast, unspecified) or obviously
// local names. Host names are not resolved here (VOD resolves them from
// its own network).
func checkPublicURL(u *url.URL) error {
	if u.User != nil {
		return errors.New("must not carry a user name or password")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return errors.New("has no host")
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && !strings.Contains(host, ":") {
		return errors.New("must name a public host")
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if looksNumeric(host) {
			return errors.New("must not use a numeric host in another notation")
		}
		return nil // a DNS name
	}
	ip = ip.Unmap()
	// Shared address space (RFC 6598, carrier-grade NAT, also used inside
	// cloud VPCs) is not public either.
	shared := netip.MustParsePrefix("100.64.0.0/10")
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || shared.Contains(ip) {
		return errors.New("must not point at a loopback, private or link-local address")
	}
	return nil
}

// looksNumeric reports whether host is a number in a notation other than
// dotted decimal (e.g. 2130706433, 0x7f.1 or 0177.1), which resolvers may
// read as an IP address.
func looksNumeric(host string) bool {
	for _, label := range strings.Split(host, ".") {
		if strings.HasPrefix(label, "0x") {
			return true
		}
	}
	return strings.Trim(host, "0123456789.") == ""
}
