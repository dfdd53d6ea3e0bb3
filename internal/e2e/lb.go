package e2e

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// roundRobin is a load balancer in front of several gateways: each request
// goes to the next backend in turn, with the client's Host kept so upload
// URLs point at the balancer. It counts requests per backend and method.
type roundRobin struct {
	srv      *httptest.Server
	backends []*url.URL

	mu     sync.Mutex
	next   int
	counts map[string]map[string]int // backend host -> method -> n
}

func newRoundRobin(t testing.TB, gateways ...*gatewayProc) *roundRobin {
	t.Helper()
	lb := &roundRobin{counts: map[string]map[string]int{}}
	for _, g := range gateways {
		u, err := url.Parse(g.URL())
		if err != nil {
			t.Fatal(err)
		}
		lb.backends = append(lb.backends, u)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			lb.mu.Lock()
			u := lb.backends[lb.next%len(lb.backends)]
			lb.next++
			m := lb.counts[u.Host]
			if m == nil {
				m = map[string]int{}
				lb.counts[u.Host] = m
			}
			m[r.In.Method]++
			lb.mu.Unlock()
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	lb.srv = httptest.NewServer(proxy)
	t.Cleanup(lb.srv.Close)
	return lb
}

// Endpoint is the tus creation endpoint through the balancer.
func (lb *roundRobin) Endpoint() string { return lb.srv.URL + "/files/" }

// Count returns how many requests of method went to g.
func (lb *roundRobin) Count(g *gatewayProc, method string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.counts[g.addr][method]
}
