package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// newRedis returns the client for redis-url:
//
//	redis://[user:pass@]host:port[/db]              one server (rediss:// for TLS)
//	redis://host:port?master_name=M&addr=host2:port  Sentinel: the hosts are sentinels
//	redis+cluster://host:port?addr=host2:port        Cluster (rediss+cluster:// for TLS)
//
// Query parameters are go-redis's (dial_timeout, read_timeout, pool_size …).
func newRedis(raw string) (redis.UniversalClient, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("redis-url: %w", err)
	}
	switch {
	case strings.HasSuffix(u.Scheme, "+cluster"):
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("redis-url: %w", err)
		}
		return redis.NewClusterClient(o), strings.Join(o.Addrs, ","), nil
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, "", fmt.Errorf("redis-url: %w", err)
		}
		return redis.NewFailoverClient(o), o.MasterName + "@" + strings.Join(o.SentinelAddrs, ","), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("redis-url: %w", err)
	}
	return redis.NewClient(o), o.Addr, nil
}
