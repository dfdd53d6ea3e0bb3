package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
)

// Helpers of the issue-5 tests (several gateway processes on one Redis):
// failover_test.go, concurrent_test.go, redisdown_test.go and
// latency_test.go.

// testLockTTL is the lock TTL (VODGATE_LOCK_TTL) of the multi-instance
// gateways: short, so that dead or frozen holders free an upload quickly.
const testLockTTL = 2 * time.Second

// lockEnv is the gateway environment of these tests: the short lock TTL and
// parts of partSize, plus extra.
func lockEnv(partSize string, extra map[string]string) map[string]string {
	env := map[string]string{
		"VODGATE_LOCK_TTL":  testLockTTL.String(),
		"VODGATE_PART_SIZE": partSize,
	}
	maps.Copy(env, extra)
	return env
}

// newInstances starts a stack whose two gateways share its Redis and
// simulators, with the environment of lockEnv.
func newInstances(t *testing.T, partSize string, opt stackOptions) (*stack, *gatewayProc, *gatewayProc) {
	t.Helper()
	opt.Env = lockEnv(partSize, opt.Env)
	s := newStack(t, opt)
	return s, s.GW, s.startGateway(nil)
}

// onHost returns uploadURL with its host replaced by g's, so the request
// goes to that instance.
func onHost(t testing.TB, uploadURL string, g *gatewayProc) string {
	t.Helper()
	u, err := url.Parse(uploadURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = g.addr
	return u.String()
}

// uploadID is the last path element of an upload URL.
func uploadID(uploadURL string) string { return path.Base(uploadURL) }

// lockKey is the Redis key of an upload's lock (see locker/doc.go).
func lockKey(prefix, id string) string { return prefix + ":{" + id + "}:lock" }

// redisClient connects to the Redis at rawURL (any of the gateway's forms);
// closed when the test ends.
func redisClient(t testing.TB, rawURL string) redis.UniversalClient {
	t.Helper()
	return testenv.NewClient(t, rawURL)
}

// lockHeld reports the lock key's remaining TTL, or 0 if nobody holds it.
func lockHeld(t testing.TB, rdb redis.UniversalClient, prefix, id string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := rdb.PTTL(ctx, lockKey(prefix, id)).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", lockKey(prefix, id), err)
	}
	if d < 0 {
		return 0
	}
	return d
}

// metric sums the samples of the Prometheus metric name (any labels) on
// g's /metrics.
func metric(t testing.TB, g *gatewayProc, name string) float64 {
	t.Helper()
	resp, err := rawHTTP.Get(g.URL() + "/metrics")
	if err != nil {
		t.Fatalf("%s: GET /metrics: %v", g.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET /metrics: %s", g.name, resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("%s: metric line %q: %v", g.name, line, err)
		}
		sum += v
	}
	return sum
}

// obs is one response a test client saw.
type obs struct {
	Client     int
	Method     string
	Host       string
	Start, End time.Time
	Status     int    // 0: transport error
	Offset     int64  // Upload-Offset of a 2xx response, else -1
	ReqOffset  int64  // PATCH: Upload-Offset sent
	Sent       int64  // PATCH: body length
	Code       string // first line of the body of an error response, or the transport error
	RetryAfter string
}

func (o obs) String() string {
	s := fmt.Sprintf("c%d %s %s %d", o.Client, o.Method, o.Host, o.Status)
	if o.Method == http.MethodPatch {
		s += fmt.Sprintf(" [%d+%d]", o.ReqOffset, o.Sent)
	}
	if o.Offset >= 0 {
		s += " @" + itoa(o.Offset)
	}
	if o.Code != "" {
		s += " " + o.Code
	}
	return s
}

// obsLog collects observations from several goroutines.
type obsLog struct {
	mu  sync.Mutex
	all []obs
}

func (l *obsLog) add(o obs) {
	l.mu.Lock()
	l.all = append(l.all, o)
	l.mu.Unlock()
}

func (l *obsLog) list() []obs {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]obs(nil), l.all...)
}

// doObs sends one tus request (body may be nil) without failing the test on
// a transport error, and returns what happened. A nil client means rawHTTP.
func doObs(ctx context.Context, hc *http.Client, client int, method, target string, reqOffset int64, body io.Reader, size int64) obs {
	if hc == nil {
		hc = rawHTTP
	}
	u, _ := url.Parse(target)
	o := obs{Client: client, Method: method, Host: u.Host, Start: time.Now(), Offset: -1, ReqOffset: reqOffset, Sent: size}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		o.End, o.Code = time.Now(), err.Error()
		return o
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if method == http.MethodPatch {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", strconv.FormatInt(reqOffset, 10))
	}
	resp, err := hc.Do(req)
	if err != nil {
		o.End, o.Code = time.Now(), "transport: "+err.Error()
		return o
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	o.End, o.Status = time.Now(), resp.StatusCode
	o.RetryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode < 300 {
		if v := resp.Header.Get("Upload-Offset"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				o.Offset = n
			}
		}
	} else {
		o.Code = firstLine(strings.TrimSpace(string(b)))
	}
	return o
}

// checkRealTimeMonotonic asserts that no successful response reported an
// Upload-Offset lower than one reported by a response received before the
// request was sent (offsets may only grow, in real time, across clients).
func checkRealTimeMonotonic(t testing.TB, all []obs) {
	t.Helper()
	bad := 0
	for _, a := range all {
		if a.Offset < 0 {
			continue
		}
		for _, b := range all {
			if b.Offset < 0 || !a.End.Before(b.Start) || b.Offset >= a.Offset {
				continue
			}
			if bad++; bad <= 5 {
				t.Errorf("offset went back: %s (done %s) then %s (sent %s)",
					a, a.End.Format("15:04:05.000"), b, b.Start.Format("15:04:05.000"))
			}
		}
	}
}

// checkDisjointPatches asserts that the byte ranges acknowledged by
// successful PATCHes, [sent offset, answered offset), lie within what was
// sent and never overlap: no byte was accepted twice.
func checkDisjointPatches(t testing.TB, all []obs) (accepted int64) {
	t.Helper()
	type rng struct {
		lo, hi int64
		o      obs
	}
	var rs []rng
	for _, o := range all {
		if o.Method != http.MethodPatch || o.Offset < 0 {
			continue
		}
		if o.Offset < o.ReqOffset || o.Offset > o.ReqOffset+o.Sent {
			t.Errorf("PATCH %s: answered offset outside the %d bytes sent at %d", o, o.Sent, o.ReqOffset)
			continue
		}
		if o.Offset == o.ReqOffset {
			continue
		}
		r := rng{o.ReqOffset, o.Offset, o}
		for _, q := range rs {
			if r.lo < q.hi && q.lo < r.hi {
				t.Errorf("PATCHes acknowledged overlapping bytes: %s and %s", q.o, r.o)
			}
		}
		rs = append(rs, r)
		accepted += r.hi - r.lo
	}
	return accepted
}

// statusCounts tallies observations as "METHOD status".
func statusCounts(all []obs) map[string]int {
	m := map[string]int{}
	for _, o := range all {
		k := o.Method + " " + strconv.Itoa(o.Status)
		if o.Status == 0 {
			k = o.Method + " transport-error"
		}
		m[k]++
	}
	return m
}

// slowReader returns b in pieces with a pause between them, so that a PATCH
// is still streaming when a competing request arrives.
type slowReader struct {
	b     []byte
	piece int
	pause time.Duration
	n     int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.n > 0 {
		time.Sleep(r.pause)
	}
	r.n++
	k := min(len(p), r.piece, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// pipedPatch is a PATCH whose body the test writes piece by piece.
type pipedPatch struct {
	w      *io.PipeWriter
	sent   int64
	result chan obs
}

// startPipedPatch sends a PATCH at off declaring size bytes; the body comes
// from writes to the returned pipedPatch.
func startPipedPatch(target string, off, size int64) *pipedPatch {
	pr, pw := io.Pipe()
	p := &pipedPatch{w: pw, result: make(chan obs, 1)}
	go func() {
		hc := &http.Client{Timeout: 2 * time.Minute}
		p.result <- doObs(context.Background(), hc, 0, http.MethodPatch, target, off, pr, size)
		_ = pr.CloseWithError(errors.New("request over"))
	}()
	return p
}

// write sends b as the next body bytes.
func (p *pipedPatch) write(t testing.TB, b []byte) {
	t.Helper()
	for len(b) > 0 {
		k := min(len(b), 64<<10)
		if _, err := p.w.Write(b[:k]); err != nil {
			t.Fatalf("write PATCH body: %v", err)
		}
		p.sent += int64(k)
		b = b[k:]
	}
}

// abort ends the body with an error, as a client that gives up does.
func (p *pipedPatch) abort() { _ = p.w.CloseWithError(errors.New("client aborted the PATCH")) }

// wait returns the PATCH's outcome, aborting its body after timeout.
func (p *pipedPatch) wait(timeout time.Duration) obs {
	select {
	case o := <-p.result:
		return o
	case <-time.After(timeout):
		_ = p.w.CloseWithError(errors.New("test gave up on the PATCH"))
		return <-p.result
	}
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logPartCalls logs the OSS simulator's UploadPart and Complete calls when
// the test has failed, as evidence of which instance wrote which part.
func logPartCalls(t testing.TB, s *stack) {
	t.Helper()
	if !t.Failed() {
		return
	}
	var b strings.Builder
	for _, c := range s.OSS.Calls() {
		if c.Op != osstest.OpUploadPart && c.Op != osstest.OpComplete {
			continue
		}
		fmt.Fprintf(&b, "\n  %s %s part %d, %d bytes -> %d %s", c.Time.Format("15:04:05.000"), c.Op, c.PartNumber, c.Bytes, c.Status, c.Code)
	}
	t.Logf("OSS simulator part calls:%s", b.String())
}
