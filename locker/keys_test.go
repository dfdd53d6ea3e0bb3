package locker

import (
	"log/slog"
	"strings"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	tests := []struct {
		name, prefix, id              string
		lock, fence, channel, pattern string
	}{
		{"default", "", "abc123", "vodgate:{abc123}:lock", "vodgate:{abc123}:fence", "vodgate:release:{abc123}", "vodgate:release:*"},
		{"custom prefix", "gw-test", "x+y", "gw-test:{x+y}:lock", "gw-test:{x+y}:fence", "gw-test:release:{x+y}", "gw-test:release:*"},
		{"glob prefix", "a*b?[c]", "u", "a*b?[c]:{u}:lock", "a*b?[c]:{u}:fence", "a*b?[c]:release:{u}", `a\*b\?\[c\]:release:*`},
		{"brace in id", "", "a}b", "vodgate:{a}b}:lock", "vodgate:{a}b}:fence", "vodgate:release:{a}b}", "vodgate:release:*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(nil, Config{Prefix: tc.prefix, Logger: slog.New(slog.DiscardHandler)})
			k := l.keysOf(tc.id)
			if k.lock != tc.lock || k.fence != tc.fence || k.channel != tc.channel {
				t.Errorf("keysOf(%q) = %+v, want %s %s %s", tc.id, k, tc.lock, tc.fence, tc.channel)
			}
			if p := l.channelPattern(); p != tc.pattern {
				t.Errorf("channelPattern() = %q, want %q", p, tc.pattern)
			}
			if id, ok := l.idOfChannel(k.channel); !ok || id != tc.id {
				t.Errorf("idOfChannel(%q) = %q, %v; want %q", k.channel, id, ok, tc.id)
			}
			if _, ok := l.idOfChannel("other:release:{x}"); ok {
				t.Error("idOfChannel accepted another prefix")
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	tests := []struct {
		name                        string
		in                          Config
		prefix                      string
		ttl, renewEvery, retryEvery string
	}{
		{"zero", Config{}, "vodgate", "5s", "1.666666666s", "50ms"},
		{"renew from ttl", Config{TTL: 9e9}, "vodgate", "9s", "3s", "50ms"},
		{"renew too long", Config{TTL: 3e9, RenewEvery: 3e9}, "vodgate", "3s", "1s", "50ms"},
		{"kept", Config{Prefix: "p", TTL: 2e9, RenewEvery: 5e8, RetryEvery: 1e7}, "p", "2s", "500ms", "10ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.in
			c.setDefaults()
			if c.Prefix != tc.prefix || c.TTL.String() != tc.ttl || c.RenewEvery.String() != tc.renewEvery ||
				c.RetryEvery.String() != tc.retryEvery || c.Logger == nil {
				t.Errorf("setDefaults() = %q %s %s %s (logger %v), want %q %s %s %s", c.Prefix, c.TTL, c.RenewEvery,
					c.RetryEvery, c.Logger != nil, tc.prefix, tc.ttl, tc.renewEvery, tc.retryEvery)
			}
		})
	}
}

// replyErr is a Redis error reply, as go-redis returns them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// TestTemporaryReplies: the replies of a Redis that is failing over or
// moving slots make a lock operation unavailable (503), data errors do not.
func TestTemporaryReplies(t *testing.T) {
	for reply, want := range map[string]bool{
		"MOVED 8576 127.0.0.1:7156":                                         true,
		"ASK 8576 127.0.0.1:7156":                                           true,
		"TRYAGAIN Multiple keys request during rehashing of slot":           true,
		"CLUSTERDOWN The cluster is down":                                   true,
		"READONLY You can't write against a read only replica.":             true,
		"WRONGTYPE Operation against a key holding the wrong kind of value": false,
		"ERR Error running script":                                          false,
	} {
		if got := temporary(replyErr(reply)); got != want {
			t.Errorf("temporary(%q) = %v, want %v", reply, got, want)
		}
	}
}

// TestShardedScripts: on a Cluster the scripts publish with SPUBLISH, whose
// channel must be in the slot of the script's keys, and never with PUBLISH.
func TestShardedScripts(t *testing.T) {
	for _, tc := range []struct {
		sharded bool
		want    string
	}{{false, "'PUBLISH'"}, {true, "'SPUBLISH'"}} {
		for name, src := range map[string]string{
			"acquire": publishing(acquireScript, tc.sharded), "release": publishing(releaseScript, tc.sharded)} {
			if strings.Count(src, "PUBLISH'") != 1 || !strings.Contains(src, tc.want) {
				t.Errorf("sharded=%v: %s script publishes with the wrong command, want %s:\n%s", tc.sharded, name, tc.want, src)
			}
		}
	}
	l := New(nil, Config{})
	k := l.keysOf("abc")
	if !strings.Contains(k.channel, "{abc}") || !strings.Contains(k.lock, "{abc}") {
		t.Errorf("channel %q and lock %q must share the hash tag {abc}", k.channel, k.lock)
	}
}
