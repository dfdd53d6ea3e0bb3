package e2e

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// Issue 18: Redis failover under live uploads, with redis-wait-replicas: 1.
// Each test starts a private Sentinel group or Cluster (internal/testenv),
// two gateways on it behind a round-robin balancer, and 20 tus-js-client
// uploads; it breaks Redis while they run. What must hold:
//   - every upload completes, as the media it was created as, with the
//     right size and SHA-256;
//   - no Upload-Offset a client saw acknowledged ever goes back;
//   - no request gets a 5xx other than 503, and every 503 carries
//     Retry-After (probed with raw requests during the break).

// failoverUploads is the number of concurrent uploads of these tests.
const failoverUploads = 20

// failoverRun is the uploads of one failover test, paused before PATCH 3.
type failoverRun struct {
	s        *stack
	gws      []*gatewayProc
	srcs     []source
	runs     []*tusRun
	mediaIDs []string
	urls     []string
	probeURL string // an upload of its own, HEADed during the break
	left     atomic.Int64
}

// startFailoverUploads starts two gateways on redisURL with
// redis-wait-replicas 1 and the uploads, and waits until every upload has
// sent two chunks and paused.
func startFailoverUploads(t *testing.T, redisURL string) *failoverRun {
	t.Helper()
	s, a, b := newInstances(t, "256KiB", stackOptions{RedisURL: redisURL, Env: map[string]string{
		"VODGATE_REDIS_WAIT_REPLICAS": "1",
		"VODGATE_REDIS_WAIT_TIMEOUT":  "1s",
	}})
	r := &failoverRun{s: s, gws: []*gatewayProc{a, b}}
	lb := newRoundRobin(t, a, b)
	for i := range failoverUploads {
		src := makeSource(t, 3*MiB+int64(i)*KiB+17, uint64(1800+i))
		name := "failover-" + strconv.Itoa(i) + ".mp4"
		// Resumed from an upload URL, not created from the endpoint: with an
		// endpoint, tus-js-client answers a 503 HEAD by creating a new upload.
		u, post := createUpload(t, lb.Endpoint(), src.Size, map[string]string{"filename": name})
		r.srcs, r.urls = append(r.srcs, src), append(r.urls, u)
		r.mediaIDs = append(r.mediaIDs, post.Header.Get("Vod-Media-Id"))
		r.runs = append(r.runs, startTus(t, tusOptions{
			UploadURL:        u,
			File:             src.Path,
			ChunkSize:        512 * KiB,
			Metadata:         map[string]string{"filename": name},
			PauseBeforePatch: []int{3},
			RetryDelays:      longRetries,
		}))
	}
	r.probeURL, _ = createUpload(t, a.Endpoint(), 1000, map[string]string{"filename": "probe.mp4"})
	for i, run := range r.runs {
		if _, ok := run.nextEvent("paused", 2*time.Minute); !ok {
			t.Fatalf("upload %d did not pause before PATCH 3", i)
		}
	}
	return r
}

// resume lets every upload go on.
func (r *failoverRun) resume() {
	for _, run := range r.runs {
		run.resume()
	}
}

// probe HEADs the probe upload and GETs /readyz on both gateways every
// 100ms until stop is closed, and returns what it saw.
func (r *failoverRun) probe(t *testing.T, stop <-chan struct{}) func() []obs {
	var targets []string
	for _, g := range r.gws {
		targets = append(targets, onHost(t, r.probeURL, g), g.URL()+"/readyz")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	hc := &http.Client{Timeout: 15 * time.Second}
	var all []obs
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		for {
			for i, target := range targets {
				method := http.MethodHead
				if i%2 == 1 {
					method = http.MethodGet
				}
				all = append(all, doObs(ctx, hc, i/2, method, target, 0, nil, 0))
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() []obs { <-done; return all }
}

// breakDuring resumes the uploads, calls brk once they are under way,
// probes until the uploads are done, and checks the invariants. brk may
// call r.pending to learn how many uploads are not done yet.
func (r *failoverRun) breakDuring(t *testing.T, brk func()) {
	t.Helper()
	results := make([]tusEvent, len(r.runs))
	r.left.Store(int64(len(r.runs)))
	var wg sync.WaitGroup
	r.resume()
	for i, run := range r.runs {
		wg.Go(func() {
			defer r.left.Add(-1)
			select {
			case results[i] = <-run.result:
			case <-time.After(3 * time.Minute):
				run.cancel()
				results[i] = tusEvent{Event: "result", Error: "no result within 3m: " + run.stderr.String()}
			}
		})
	}
	time.Sleep(150 * time.Millisecond) // PATCH 3 of most uploads in flight
	stop := make(chan struct{})
	probes := r.probe(t, stop)
	brk()
	wg.Wait()
	close(stop)
	r.check(t, probes(), results)
}

// pending returns how many uploads have not finished (during breakDuring).
func (r *failoverRun) pending() int { return int(r.left.Load()) }

// check checks the probes and the uploads' results.
func (r *failoverRun) check(t *testing.T, probes []obs, results []tusEvent) {
	t.Helper()
	for _, o := range probes {
		switch {
		case o.Status == http.StatusServiceUnavailable && o.RetryAfter == "":
			t.Errorf("503 without Retry-After: %s", o)
		case o.Status >= 500 && o.Status != http.StatusServiceUnavailable, o.Status == 0:
			t.Errorf("during the break: %s; want 2xx or 503 with Retry-After", o)
		}
	}
	checkRealTimeMonotonic(t, probes)
	t.Logf("%d probes during the break: %v", len(probes), statusCounts(probes))
	total503 := 0
	for i, res := range results {
		if !res.OK {
			t.Errorf("upload %d failed: %s (status %d, body %q); requests: %s",
				i, res.Error, res.Status, res.Body, describeRequests(res.Requests))
			continue
		}
		checkOffsetsMonotonic(t, res)
		for _, rq := range res.Requests {
			if rq.Status >= 500 && rq.Status != http.StatusServiceUnavailable {
				t.Errorf("upload %d saw a %d: %s", i, rq.Status, describeRequests(res.Requests))
			}
			if rq.Status == http.StatusServiceUnavailable {
				total503++
			}
		}
		if res.FinalMediaID != r.mediaIDs[i] {
			t.Errorf("upload %d finished as media %q, created as %q", i, res.FinalMediaID, r.mediaIDs[i])
		}
		r.s.checkUploaded(t, r.mediaIDs[i], r.srcs[i])
	}
	t.Logf("%d uploads checked; tus-js-client saw %d responses 503 in all", len(results), total503)
}

// TestSentinelFailoverDuringUploads SIGKILLs the master of a Sentinel group
// while 20 uploads go through two gateways: the sentinels promote a replica
// within seconds, and the gateways follow it.
func TestSentinelFailoverDuringUploads(t *testing.T) {
	g := testenv.StartSentinel(t)
	r := startFailoverUploads(t, g.URL())
	r.breakDuring(t, func() {
		old := g.Master()
		old.Kill()
		killed := time.Now()
		m := g.WaitFailover(old, 30*time.Second)
		t.Logf("SIGKILLed master %s; sentinels promoted %s after %v", old.Addr, m.Addr, time.Since(killed).Round(time.Millisecond))
	})
}

// TestClusterFailoverDuringUploads SIGKILLs the master of a Redis Cluster
// that serves the most of 20 live uploads while they go through two
// gateways: its replica takes over its slots within seconds, and the killed
// node is restarted and rejoins as a replica. Until then, writes to its
// slots fail with 503: with one replica per master, redis-wait-replicas 1
// cannot be met by the promoted replica alone.
func TestClusterFailoverDuringUploads(t *testing.T) {
	c := testenv.StartCluster(t)
	r := startFailoverUploads(t, c.URL())
	victim, served, key := r.busiestMaster(c)
	r.breakDuring(t, func() {
		victim.Kill()
		killed := time.Now()
		m := c.WaitFailover(victim, key, 30*time.Second)
		t.Logf("SIGKILLed master %s (slots of %d of %d uploads); replica %s took over after %v",
			victim.Addr, served[victim], len(r.urls), m.Addr, time.Since(killed).Round(time.Millisecond))
		// The promoted replica has no replica of its own, so WAIT 1 fails
		// (503) on its slots until the dead node is back: restart it, as
		// its supervisor would; it rejoins as the new master's replica.
		victim.Restart()
		t.Logf("restarted %s %v after the kill", victim.Addr, time.Since(killed).Round(time.Millisecond))
	})
}

// busiestMaster returns the cluster master that serves the slots of the
// most uploads of r, how many uploads each master serves, and the lock key
// of one upload on it.
func (r *failoverRun) busiestMaster(c *testenv.Cluster) (*testenv.ServerProc, map[*testenv.ServerProc]int, string) {
	served := map[*testenv.ServerProc]int{}
	keys := map[*testenv.ServerProc]string{}
	var busiest *testenv.ServerProc
	for _, u := range r.urls {
		k := lockKey("vodgate-e2e", uploadID(u))
		m := c.MasterOf(k)
		served[m]++
		keys[m] = k
		if busiest == nil || served[m] > served[busiest] {
			busiest = m
		}
	}
	return busiest, served, keys[busiest]
}

// TestClusterReshardDuringUploads moves every slot of the cluster master
// that serves the most of 20 live uploads to another master (redis-cli
// --cluster reshard, which migrates keys slot by slot while clients get
// MOVED and ASK redirections) while the uploads go through two gateways.
func TestClusterReshardDuringUploads(t *testing.T) {
	c := testenv.StartCluster(t)
	r := startFailoverUploads(t, c.URL())
	from, served, key := r.busiestMaster(c)
	var to *testenv.ServerProc
	for m := range served {
		if m != from {
			to = m
			break
		}
	}
	if to == nil { // every upload on one master: take any other master
		for _, n := range c.Nodes {
			if n != from && len(c.Slots(n)) > 0 {
				to = n
				break
			}
		}
	}
	n := 0
	for _, rg := range c.Slots(from) {
		n += rg[1] - rg[0] + 1
	}
	// Throttle OSS so that the uploads outlast the reshard; lifted after it.
	r.s.OSS.SetBandwidth(96 << 10)
	r.breakDuring(t, func() {
		began := time.Now()
		out, err := c.Reshard(from, to, n)
		if err != nil {
			t.Fatalf("redis-cli --cluster reshard: %v\n%s", err, tail(out, 2000))
		}
		t.Logf("moved %d slots (those of %d of %d uploads) from %s to %s in %v",
			n, served[from], len(r.urls), from.Addr, to.Addr, time.Since(began).Round(time.Millisecond))
		if m := c.MasterOf(key); m != to {
			t.Errorf("after the reshard, %s is served by %s, want %s", key, m.Addr, to.Addr)
		}
		// Uploads still under way after the reshard were under way all
		// through it. (Not asked with HEAD: tusd's HEAD takes the upload's
		// lock and so interrupts the PATCH under way.)
		live := r.pending()
		t.Logf("%d of %d uploads still under way after the reshard", live, len(r.urls))
		if live < len(r.urls)/2 {
			t.Errorf("only %d of %d uploads outlasted the reshard; the test did not reshard under load", live, len(r.urls))
		}
		r.s.OSS.SetBandwidth(0)
	})
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
