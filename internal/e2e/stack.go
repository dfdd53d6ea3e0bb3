package e2e

import (
	"maps"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// Credentials the gateway uses on the VOD simulator.
const (
	testAccessKeyID     = "LTAI5tE2EGATEWAYTEST"
	testAccessKeySecret = "e2e-secret-never-logged"
	testRegion          = "cn-shanghai"
)

// stack is one test's world: OSS and VOD simulators in this process, a key
// prefix of its own on the shared redis-server, and gateway processes.
type stack struct {
	t      *testing.T
	OSS    *osstest.Server
	VOD    *vodtest.Server
	GW     *gatewayProc // the first gateway
	bin    string
	env    map[string]string
	prefix string
	n      int
	// rdb is the shared Redis the gateways use (nil with
	// stackOptions.RedisURL); records live under prefix.
	rdb redis.UniversalClient
}

// stackOptions tune a stack. The zero value is the default.
type stackOptions struct {
	// Env is added to (and overrides) the gateway's environment.
	Env map[string]string
	// NoGateway leaves GW nil; start one with startGateway.
	NoGateway bool
	// RedisURL points the gateways at another Redis (e.g. a redisProc the
	// test stops and restarts) instead of the shared $VODGATE_TEST_REDIS_URL.
	RedisURL string
	// OSSRefuseV1 makes the OSS simulator answer V1-signed requests 403, as
	// OSS does for accounts that must sign with V4.
	OSSRefuseV1 bool
	// VODCallbackKey makes the VOD simulator sign its HTTP callbacks with
	// this AuthKey.
	VODCallbackKey string
	// URLJobStep is how long the VOD simulator's URL jobs spend in each
	// status (default 1s).
	URLJobStep time.Duration
	// FetchURLs makes the VOD simulator download URL jobs' sources.
	FetchURLs bool
}

// newStack builds the simulators and starts one gateway. It skips (or fails
// with CI=true) when the gateway binary or Redis is missing.
func newStack(t *testing.T, opt stackOptions) *stack {
	t.Helper()
	bin := testenv.GatewayBin(t)
	var rurl, prefix string
	var shared redis.UniversalClient
	if opt.RedisURL != "" {
		rurl, prefix = opt.RedisURL, "vodgate-e2e"
	} else { // the topology of $VODGATE_TEST_TOPOLOGY: .ci/test runs the suite on each
		rdb, u := testenv.TopologyRedis(t, testenv.DefaultTopology(t))
		rurl, shared = u, rdb
		prefix = testenv.KeyPrefix(t, rdb) // keys deleted when the test ends
	}

	oss := osstest.NewServer(osstest.Config{RefuseV1: opt.OSSRefuseV1})
	t.Cleanup(oss.Close)
	vod := vodtest.NewServer(vodtest.Config{
		OSS:             oss,
		AccessKeys:      map[string]string{testAccessKeyID: testAccessKeySecret},
		CallbackAuthKey: opt.VODCallbackKey,
		URLJobStep:      opt.URLJobStep,
		FetchURLs:       opt.FetchURLs,
	})
	t.Cleanup(vod.Close)

	s := &stack{
		t:      t,
		OSS:    oss,
		VOD:    vod,
		bin:    bin,
		prefix: prefix,
		rdb:    shared,
	}
	s.env = map[string]string{
		"VODGATE_REDIS_URL":               rurl,
		"VODGATE_REDIS_PREFIX":            s.prefix,
		"VODGATE_VOD_ENDPOINT":            vod.Endpoint(),
		"VODGATE_VOD_PROTOCOL":            "http",
		"VODGATE_VOD_REGION":              testRegion,
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     testAccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": testAccessKeySecret,
	}
	maps.Copy(s.env, opt.Env)
	if !opt.NoGateway {
		s.GW = s.startGateway(nil)
	}
	return s
}

// startGateway starts another gateway process sharing this stack's
// simulators, Redis and key prefix; env overrides the stack's environment.
func (s *stack) startGateway(env map[string]string) *gatewayProc {
	s.t.Helper()
	s.n++
	e := maps.Clone(s.env)
	// On a Cluster, each gateway starts from another node (it learns the
	// others from it), so that gateways talk to the cluster through
	// different nodes.
	e["VODGATE_REDIS_URL"] = rotateClusterSeeds(e["VODGATE_REDIS_URL"], s.n-1)
	maps.Copy(e, env)
	name := "gateway"
	if s.n > 1 {
		name = "gateway" + strconv.Itoa(s.n)
	}
	return newGatewayProc(s.t, name, s.bin, e)
}

// checkUploaded asserts that mediaID names a media in the VOD simulator whose
// upload succeeded, and that its object in the OSS simulator has src's size
// and SHA-256.
func (s *stack) checkUploaded(t *testing.T, mediaID string, src source) {
	t.Helper()
	if mediaID == "" {
		t.Fatalf("no Vod-Media-Id header seen")
	}
	var m vodtest.Media
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ok bool
		m, ok = s.VOD.Media(mediaID)
		if !ok {
			t.Fatalf("Vod-Media-Id %q: no such media in the VOD simulator (have %d media)", mediaID, len(s.VOD.AllMedia()))
		}
		if m.Status == "UploadSucc" || m.Status == "Normal" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m.Status != "UploadSucc" && m.Status != "Normal" {
		t.Errorf("media %s status = %q, want UploadSucc", mediaID, m.Status)
	}
	obj, ok := s.OSS.Object(m.Bucket, m.Key)
	if !ok {
		t.Fatalf("media %s: no object at oss://%s/%s (objects: %+v)", mediaID, m.Bucket, m.Key, s.OSS.Objects())
	}
	if obj.Size != src.Size {
		t.Errorf("object oss://%s/%s size = %d, want %d", m.Bucket, m.Key, obj.Size, src.Size)
	}
	if obj.SHA256 != src.SHA256 {
		t.Errorf("object oss://%s/%s sha256 = %s, want %s", m.Bucket, m.Key, obj.SHA256, src.SHA256)
	}
}

// rotateClusterSeeds returns a redis+cluster:// URL with its node list
// (host, then the addr parameters) rotated by n; other URLs unchanged.
func rotateClusterSeeds(raw string, n int) string {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasSuffix(u.Scheme, "+cluster") {
		return raw
	}
	q := u.Query()
	nodes := append([]string{u.Host}, q["addr"]...)
	k := n % len(nodes)
	nodes = append(nodes[k:], nodes[:k]...)
	u.Host = nodes[0]
	q["addr"] = nodes[1:]
	u.RawQuery = q.Encode()
	return u.String()
}
