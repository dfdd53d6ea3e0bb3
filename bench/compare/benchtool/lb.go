package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// startInstances starts o.instances gateway processes with environment e
// (its VODGATE_LISTEN replaced by a port of each own) and a round-robin
// reverse proxy on port in front of them, as a load balancer would be: each
// request goes to the next instance, so one upload's requests spread over
// all of them and the instances hand its lock over through Redis.
func (o *options) startInstances(s *server, srv, bin string, args, e []string, logPath string, port int) error {
	var targets []*url.URL
	for i := range o.instances {
		p, err := freePort()
		if err != nil {
			return err
		}
		env := make([]string, 0, len(e))
		for _, kv := range e {
			if !strings.HasPrefix(kv, "VODGATE_LISTEN=") {
				env = append(env, kv)
			}
		}
		env = append(env, "VODGATE_LISTEN=127.0.0.1:"+strconv.Itoa(p))
		lp := strings.TrimSuffix(logPath, ".log") + "-" + strconv.Itoa(i+1) + ".log"
		pr, err := start(lp, fmt.Sprintf("%s#%d", srv, i+1), bin, args, env)
		if err != nil {
			s.stop()
			return err
		}
		if i == 0 {
			s.p = pr
		} else {
			s.more = append(s.more, pr)
		}
		u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", p))
		targets = append(targets, u)
		if err := waitReady(pr, u.String()+"/readyz", false, 30*time.Second); err != nil {
			s.stop()
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		s.stop()
		return err
	}
	var n atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := targets[n.Add(1)%uint64(len(targets))]
			r.SetURL(t)
			r.Out.Host = r.In.Host // Location headers keep naming the balancer
		},
		FlushInterval: -1,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0},
	}
	s.lb = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go s.lb.Serve(ln)
	return nil
}
