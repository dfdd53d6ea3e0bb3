package devstack

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// Development credentials accepted by the VOD simulator. They are not
// secrets and work nowhere else.
const (
	DevAccessKeyID     = "dev-access-key-id"
	DevAccessKeySecret = "dev-access-key-secret"
)

// Defaults applied by [Start] to zero [Config] fields.
const (
	DefaultDataDir   = "./.devdata"
	DefaultOSSAddr   = "127.0.0.1:9080"
	DefaultVODAddr   = "127.0.0.1:9081"
	DefaultRedisAddr = "127.0.0.1:9082"
	DefaultRegion    = "cn-shanghai"
	// DefaultNormalAfter is how long after its upload a simulated video
	// turns from UploadSucc to Normal, as if transcoded.
	DefaultNormalAfter = 3 * time.Second
)

// ttlTick is how often the embedded Redis's clock advances, which is what
// expires keys (lock TTLs) in miniredis.
const ttlTick = 100 * time.Millisecond

// Config configures [Start]. The zero value is usable.
type Config struct {
	// DataDir holds object and part bytes. Default: ./.devdata.
	DataDir string
	// OSSAddr, VODAddr and RedisAddr are the listen addresses of the OSS
	// simulator, the VOD simulator and the embedded Redis; use loopback
	// addresses (port 0 picks a free port). Defaults: 127.0.0.1:9080,
	// 127.0.0.1:9081, 127.0.0.1:9082.
	OSSAddr, VODAddr, RedisAddr string
	// Region is the simulated VOD/OSS region. Default: cn-shanghai.
	Region string
	// Logger receives the simulators' logs. Default: slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	for p, d := range map[*string]string{&c.DataDir: DefaultDataDir, &c.OSSAddr: DefaultOSSAddr,
		&c.VODAddr: DefaultVODAddr, &c.RedisAddr: DefaultRedisAddr, &c.Region: DefaultRegion} {
		if *p == "" {
			*p = d
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stack is a running set of simulators and an embedded Redis.
type Stack struct {
	cfg   Config
	oss   *osstest.Server
	vod   *vodtest.Server
	redis *miniredis.Miniredis
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// Overrides are the gateway settings that point it at a [Stack].
type Overrides struct {
	VODEndpoint     string // host:port of the VOD simulator
	VODProtocol     string // "http"
	VODRegion       string
	AccessKeyID     string
	AccessKeySecret string
	RedisURL        string // redis://host:port/0 of the embedded Redis
}

// Start starts the OSS simulator, the VOD simulator and the embedded Redis.
// On error, whatever was started is stopped.
func Start(cfg Config) (*Stack, error) {
	cfg.setDefaults()
	s := &Stack{cfg: cfg, stop: make(chan struct{})}
	var err error
	log := cfg.Logger.With("component", "devstack")
	s.oss, err = osstest.NewServerAt(cfg.OSSAddr, osstest.Config{
		Dir: cfg.DataDir, Region: cfg.Region, Logger: log.With("sim", "oss"),
	})
	if err != nil {
		return nil, fmt.Errorf("devstack: oss simulator: %w", err)
	}
	s.vod, err = vodtest.NewServerAt(cfg.VODAddr, vodtest.Config{
		OSS:         s.oss,
		AccessKeys:  map[string]string{DevAccessKeyID: DevAccessKeySecret},
		Region:      cfg.Region,
		NormalAfter: DefaultNormalAfter,
		Logger:      log.With("sim", "vod"),
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: vod simulator: %w", err)
	}
	s.redis = miniredis.NewMiniRedis()
	if err := s.redis.StartAddr(cfg.RedisAddr); err != nil {
		s.Close()
		return nil, fmt.Errorf("devstack: embedded redis: %w", err)
	}
	s.wg.Add(1)
	go s.tick()
	return s, nil
}

// tick advances miniredis's clock, which only expires keys when told to.
func (s *Stack) tick() {
	defer s.wg.Done()
	t := time.NewTicker(ttlTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.redis.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Overrides returns the settings that point the gateway at s.
func (s *Stack) Overrides() Overrides {
	return Overrides{
		VODEndpoint:     s.vod.Endpoint(),
		VODProtocol:     "http",
		VODRegion:       s.cfg.Region,
		AccessKeyID:     DevAccessKeyID,
		AccessKeySecret: DevAccessKeySecret,
		RedisURL:        "redis://" + s.redis.Addr() + "/0",
	}
}

// OSSURL is the base URL of the OSS simulator (inspection under /_sim/).
func (s *Stack) OSSURL() string { return s.oss.URL() }

// VODURL is the base URL of the VOD simulator (inspection under /_sim/).
func (s *Stack) VODURL() string { return "http://" + s.vod.Endpoint() }

// RedisAddr is the address of the embedded Redis.
func (s *Stack) RedisAddr() string { return s.redis.Addr() }

// Close stops everything Start started. It is safe to call more than once.
func (s *Stack) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		if s.redis != nil {
			s.redis.Close()
		}
		if s.vod != nil {
			s.vod.Close()
		}
		if s.oss != nil {
			s.oss.Close()
		}
	})
}

// Banner returns what `gateway -dev` prints once it listens: the
// endpoints, a ready-to-paste upload with curl (tus creation, then one
// PATCH) and where to look at the result. tusURL is the gateway's tus
// endpoint, e.g. http://127.0.0.1:8080/files/. tokenCmd, when
// authentication is on, is a shell command that prints a bearer token (or
// a placeholder to replace); the curl lines then send it. Empty: no
// Authorization header.
func (s *Stack) Banner(tusURL, tokenCmd string) string {
	authLine, authArg := "", ""
	if tokenCmd != "" {
		authLine = "  TOKEN=$(" + tokenCmd + ")   # authentication is on\n"
		authArg = ` -H "Authorization: Bearer $TOKEN"`
	}
	return fmt.Sprintf(`
vodgate dev mode: tus endpoint %[1]s
  simulated VOD %[2]s, OSS %[3]s, Redis %[4]s (state lives until exit)

Upload a file (any name; VOD checks the extension):
%[5]s  f=sample.mp4; head -c 3000000 /dev/urandom > "$f"
  loc=$(curl -sS -o /dev/null -D - -X POST %[1]s%[6]s \
    -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $(wc -c < "$f" | tr -d ' ')" \
    -H "Upload-Metadata: filename $(printf %%s "$f" | base64)" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  curl -sS -i -X PATCH "$loc"%[6]s -H 'Tus-Resumable: 1.0.0' \
    -H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: 0' --data-binary @"$f"
  curl -sS -I "$loc"%[6]s -H 'Tus-Resumable: 1.0.0'     # Upload-Offset, Vod-Media-Id

See the result:
  curl %[3]s/_sim/objects
  curl %[2]s/_sim/media
`, tusURL, s.VODURL(), s.OSSURL(), s.redis.Addr(), authLine, authArg)
}
