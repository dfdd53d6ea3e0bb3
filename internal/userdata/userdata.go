// Package userdata is the policy on the VOD UserData an uploader may send
// in tus metadata (key "userData"). VOD acts on parts of it: it sends the
// media's event callbacks to MessageCallback.CallbackURL and hands Extend
// back to the app in every callback. Left to the uploader, any client could
// point the app's callbacks at a host of its choosing or forge the Extend
// the app server trusts. The policy runs on the client's own metadata,
// before the pre-create hook, so values that the app server sets (through
// the hook, default-user-data or token claims) are not subject to it.
package userdata

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Policy says what a client may put in userData. The zero value allows no
// MessageCallback and no Extend.
type Policy struct {
	// CallbackHosts are the hosts a client's MessageCallback.CallbackURL
	// may name: "hooks.example.com" exactly, or "*.example.com" for any
	// subdomain. Empty: a client may not set MessageCallback at all.
	CallbackHosts []string
	// ClientExtend lets clients set Extend. Default false: Extend is set by
	// the app server only.
	ClientExtend bool
	// AccelerateHosts are the hosts a client's AccelerateConfig.Domain may
	// name (host names, as CallbackHosts). The gateway sends the upload's
	// bytes and STS token there, so only OSS's acceleration endpoints
	// belong here. Empty: a client may not set AccelerateConfig.
	AccelerateHosts []string
}

// ErrRefused is wrapped by every error Check returns.
var ErrRefused = errors.New("userData refused")

// Check reports whether raw, the client's userData value, is allowed. An
// empty value is. A value that is not a JSON object is left to the
// metadata validation (it answers that more precisely).
func (p Policy) Check(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	var ud struct {
		MessageCallback *struct {
			CallbackURL  string `json:"CallbackURL"`
			CallbackType string `json:"CallbackType"`
		} `json:"MessageCallback"`
		Extend           json.RawMessage `json:"Extend"`
		AccelerateConfig *struct {
			Type   string `json:"Type"`
			Domain string `json:"Domain"`
		} `json:"AccelerateConfig"`
	}
	if err := json.Unmarshal([]byte(raw), &ud); err != nil {
		return nil
	}
	if len(ud.Extend) > 0 && !p.ClientExtend {
		return fmt.Errorf("%w: Extend is set by the app server, not by the uploader", ErrRefused)
	}
	if a := ud.AccelerateConfig; a != nil {
		if a.Type != "oss" {
			return fmt.Errorf("%w: AccelerateConfig.Type must be oss", ErrRefused)
		}
		if err := checkHostURL("AccelerateConfig.Domain", a.Domain, p.AccelerateHosts, "oss-accelerate-hosts"); err != nil {
			return err
		}
	}
	if ud.MessageCallback != nil {
		if len(p.CallbackHosts) == 0 {
			return fmt.Errorf("%w: MessageCallback is not allowed from uploaders", ErrRefused)
		}
		if err := p.checkCallbackURL(ud.MessageCallback.CallbackURL); err != nil {
			return err
		}
	}
	return nil
}

func (p Policy) checkCallbackURL(raw string) error {
	if raw == "" {
		return nil // VOD then uses the account's callback settings
	}
	return checkHostURL("MessageCallback.CallbackURL", raw, p.CallbackHosts, "user-data-callback-hosts")
}

// checkHostURL checks that raw is an http(s) URL without userinfo whose
// host is one of hosts (the config key named key).
func checkHostURL(field, raw string, hosts []string, key string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %s must be an http or https URL", ErrRefused, field)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s must not carry a user name or password", ErrRefused, field)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, h := range hosts {
		h = strings.ToLower(h)
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+rest) {
				return nil
			}
		} else if host == h {
			return nil
		}
	}
	return fmt.Errorf("%w: %s host %q is not in %s", ErrRefused, field, host, key)
}
