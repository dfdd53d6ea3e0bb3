package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// redisDownFor is how long TestRedisRestartDuringUploads keeps Redis down.
const redisDownFor = 3 * time.Second

// TestRedisRestartDuringUploads stops the (private, AOF-persisted)
// redis-server under two gateway instances while uploads are under way and
// starts it again on the same port and dir. While it is down every tus
// request and /readyz must get 503 with Retry-After, never a 500; a PATCH
// that was streaming when Redis went away must not get a 500 either. Once
// it is back, readiness turns green by itself, the upload state written
// before the outage is intact, and every upload completes with the right
// bytes.
func TestRedisRestartDuringUploads(t *testing.T) {
	rp := newRedisProc(t)
	s, a, b := newInstances(t, "256KiB", stackOptions{RedisURL: rp.URL()})
	defer logPartCalls(t, s)
	gws := []*gatewayProc{a, b}

	// Two tus-js-client uploads, one per instance, paused before PATCH 3.
	// They resume an upload URL rather than create from the endpoint:
	// tus-js-client answers any non-2xx HEAD (such as the 503s of the
	// outage) by creating a new upload when it has an endpoint, which would
	// start the bytes over; with only an upload URL it retries the HEAD.
	srcs := []source{makeSource(t, 5*MiB+111, 506), makeSource(t, 4*MiB+222, 507)}
	runs := make([]*tusRun, len(gws))
	mediaIDs := make([]string, len(gws))
	for i, g := range gws {
		u, post := createUpload(t, g.Endpoint(), srcs[i].Size, map[string]string{"filename": "redis-" + strconv.Itoa(i) + ".mp4"})
		mediaIDs[i] = post.Header.Get("Vod-Media-Id")
		runs[i] = startTus(t, tusOptions{
			UploadURL:        u,
			File:             srcs[i].Path,
			ChunkSize:        1 * MiB,
			Metadata:         map[string]string{"filename": "redis-" + strconv.Itoa(i) + ".mp4"},
			PauseBeforePatch: []int{3},
			RetryDelays:      longRetries,
		})
	}
	// A third one creates from the endpoint, as most apps do: it must end
	// with a correct object, possibly as a new upload (logged).
	epSrc := makeSource(t, 3*MiB+333, 512)
	epRun := startTus(t, tusOptions{
		Endpoint:         a.Endpoint(),
		File:             epSrc.Path,
		ChunkSize:        1 * MiB,
		Metadata:         map[string]string{"filename": "redis-endpoint.mp4"},
		PauseBeforePatch: []int{3},
		RetryDelays:      longRetries,
	})
	for i, r := range append(runs, epRun) {
		ev := r.mustEvent("paused", time.Minute)
		t.Logf("upload %d paused before PATCH %d at %d", i, ev.Patch, ev.Offset)
	}

	// A raw upload: 300 KiB durable (a 256 KiB part and a tail), then a
	// PATCH still streaming into a when Redis stops.
	raw := makeSource(t, 2*MiB, 508)
	rawData := raw.readRange(t, 0, raw.Size)
	rawURL, rawPost := createUpload(t, a.Endpoint(), raw.Size, map[string]string{"filename": "raw.mp4"})
	const durable, inflight = 300 * KiB, 700 * KiB
	if r := patchUpload(t, onHost(t, rawURL, b), 0, rawData[:durable]); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH before the outage: %d %s", r.Status, r.Body)
	}
	p := startPipedPatch(rawURL, durable, inflight)
	p.write(t, rawData[durable:durable+200*KiB])

	rp.Stop()
	down := time.Now()
	t.Logf("redis-server stopped")
	for _, r := range append(runs, epRun) {
		r.resume()
	}
	var wg sync.WaitGroup
	wg.Go(func() { // the streaming PATCH goes on for a second, then ends
		rest := rawData[durable+200*KiB : durable+inflight]
		for len(rest) > 0 {
			time.Sleep(100 * time.Millisecond)
			k := min(len(rest), 50*KiB)
			if _, err := p.w.Write(rest[:k]); err != nil {
				return // the gateway answered early and the transport stopped reading
			}
			rest = rest[k:]
		}
	})

	// Probe both instances while Redis is down.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 15 * time.Second}
	var probes []obs
	probe := func(g *gatewayProc) {
		target := onHost(t, rawURL, g)
		probes = append(probes,
			doObs(ctx, hc, 0, http.MethodGet, g.URL()+"/readyz", 0, nil, 0),
			doObs(ctx, hc, 0, http.MethodHead, target, 0, nil, 0),
			doObs(ctx, hc, 0, http.MethodPatch, target, durable, bytes.NewReader(rawData[durable:durable+64*KiB]), 64*KiB))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.Endpoint(), nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "1000")
		req.Header.Set("Upload-Metadata", encodeMetadata(map[string]string{"filename": "during.mp4"}))
		o := obs{Method: http.MethodPost, Host: g.addr, Start: time.Now(), Offset: -1}
		if resp, err := hc.Do(req); err != nil {
			o.Code = "transport: " + err.Error()
		} else {
			resp.Body.Close()
			o.Status, o.RetryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		}
		o.End = time.Now()
		probes = append(probes, o)
	}
	for time.Since(down) < redisDownFor && ctx.Err() == nil {
		for _, g := range gws {
			probe(g)
		}
		time.Sleep(200 * time.Millisecond)
	}
	slowest := map[string]time.Duration{}
	for _, o := range probes {
		if o.Status != http.StatusServiceUnavailable || o.RetryAfter == "" {
			t.Errorf("with Redis down: %s (Retry-After %q); want 503 with Retry-After", o, o.RetryAfter)
		}
		slowest[o.Method] = max(slowest[o.Method], o.End.Sub(o.Start).Round(time.Millisecond))
	}
	t.Logf("%d probes while Redis was down: %v; slowest answer by method: %v", len(probes), statusCounts(probes), slowest)
	o := p.wait(30 * time.Second)
	wg.Wait()
	t.Logf("the PATCH streaming when Redis stopped: %s (Retry-After %q)", o, o.RetryAfter)
	if o.Status >= 500 && o.Status != http.StatusServiceUnavailable {
		t.Errorf("the PATCH streaming when Redis stopped got %s; want no 5xx but 503", o)
	}
	if o.Status == http.StatusNoContent {
		t.Errorf("the PATCH streaming when Redis stopped succeeded without Redis: %s", o)
	}

	rp.Start()
	up := time.Now()
	t.Logf("redis-server restarted after %v", up.Sub(down).Round(time.Millisecond))
	for _, g := range gws {
		ok := waitFor(20*time.Second, func() bool {
			r := doObs(ctx, hc, 0, http.MethodGet, g.URL()+"/readyz", 0, nil, 0)
			return r.Status == http.StatusOK
		})
		if !ok {
			t.Fatalf("%s: /readyz not 200 within 20s of Redis' return", g.name)
		}
		t.Logf("%s ready %v after Redis' return", g.name, time.Since(up).Round(time.Millisecond))
	}

	// The raw upload kept exactly what was acknowledged before the outage.
	h := doObs(ctx, hc, 0, http.MethodHead, onHost(t, rawURL, b), 0, nil, 0)
	if h.Status != http.StatusOK || h.Offset != durable {
		t.Errorf("HEAD after the restart: %s; want 200 at %d", h, int64(durable))
	}
	if h.Status == http.StatusOK {
		last := doObs(ctx, hc, 0, http.MethodPatch, onHost(t, rawURL, b), h.Offset, bytes.NewReader(rawData[h.Offset:]), raw.Size-h.Offset)
		if last.Status != http.StatusNoContent || last.Offset != raw.Size {
			t.Errorf("final PATCH of the raw upload: %s", last)
		} else {
			s.checkUploaded(t, rawPost.Header.Get("Vod-Media-Id"), raw)
		}
	}
	for i, r := range runs {
		res := r.wait(3 * time.Minute)
		requireOK(t, res)
		checkOffsetsMonotonic(t, res)
		retried := 0
		for _, rq := range res.Requests {
			if rq.Status == http.StatusInternalServerError {
				t.Errorf("upload %d saw a 500: %s", i, describeRequests(res.Requests))
			}
			if rq.Status == http.StatusServiceUnavailable {
				retried++
			}
		}
		t.Logf("upload %d: %d responses 503 during the outage: %s", i, retried, describeRequests(res.Requests))
		if res.FinalMediaID != mediaIDs[i] {
			t.Errorf("upload %d finished as media %q, created as %q", i, res.FinalMediaID, mediaIDs[i])
		}
		s.checkUploaded(t, mediaIDs[i], srcs[i])
	}
	res := epRun.wait(3 * time.Minute)
	requireOK(t, res)
	created := 0
	for _, rq := range res.Requests {
		if rq.Status == http.StatusInternalServerError {
			t.Errorf("endpoint upload saw a 500: %s", describeRequests(res.Requests))
		}
		if rq.Method == http.MethodPost && rq.Status == http.StatusCreated {
			created++
		}
	}
	if created > 1 {
		t.Logf("endpoint upload: tus-js-client answered the outage's HEAD 503 by creating a new upload and sending "+
			"the bytes again (%d uploads created): %s", created, describeRequests(res.Requests))
	}
	s.checkUploaded(t, res.FinalMediaID, epSrc)
}
