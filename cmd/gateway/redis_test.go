package main

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNewRedis(t *testing.T) {
	for _, tc := range []struct {
		url, kind, addr string
		bad             bool
	}{
		{url: "redis://127.0.0.1:6379/2", kind: "client", addr: "127.0.0.1:6379"},
		{url: "rediss://user:pw@cache:6380", kind: "client", addr: "cache:6380"},
		{url: "redis://s1:26379?master_name=main&addr=s2:26379", kind: "failover", addr: "main@s1:26379,s2:26379"},
		{url: "redis+cluster://n1:7000?addr=n2:7000", kind: "cluster", addr: "n1:7000,n2:7000"},
		{url: "http://x", bad: true},
		{url: "redis://h:1?bogus=1", bad: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, addr, err := newRedis(tc.url)
			if tc.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			kind := "client"
			switch c := c.(type) {
			case *redis.ClusterClient:
				kind = "cluster"
			case *redis.Client:
				if c.Options().Addr == "FailoverClient" { // as go-redis names it
					kind = "failover"
				}
			}
			if kind != tc.kind || addr != tc.addr {
				t.Fatalf("got %s %s, want %s %s", kind, addr, tc.kind, tc.addr)
			}
		})
	}
}
