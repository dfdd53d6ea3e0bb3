package osstest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by [NewServer] and [NewServerAt] to a zero [Config].
const (
	DefaultMinPartSize = 100 * 1024
	DefaultRegion      = "cn-shanghai"
	// MaxCalls is how many [Call] records are kept; older ones are dropped
	// (CallCount keeps counting them).
	MaxCalls = 100000
)

// Config configures a [Server]. The zero value is usable.
type Config struct {
	// Clock is the server's notion of "now": Date skew, credential expiry,
	// LastModified and Call times use it. Default: time.Now.
	Clock func() time.Time
	// MinPartSize is the EntityTooSmall threshold applied at Complete to every
	// listed part except the last, in bytes. Default: 100 KiB.
	MinPartSize int64
	// Dir, if set, keeps part and object bytes in files under a fresh
	// subdirectory of Dir (removed by Close). If empty, bytes live in memory.
	Dir string
	// Region is the only region accepted in a V4 credential scope.
	// Default: "cn-shanghai".
	Region string
	// Logger receives one debug line per request. Default: slog.Default().
	Logger *slog.Logger
	// RefuseV1, if set, answers every V1-signed request ("OSS ak:sig", header
	// or query) 403 AccessDenied, as OSS does for accounts that must use
	// signature V4. Default: V1 and V4 are both accepted.
	RefuseV1 bool
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MinPartSize <= 0 {
		c.MinPartSize = DefaultMinPartSize
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is an OSS simulator listening on a loopback address. All methods are
// safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	hs     *http.Server
	url    string
	store  *blobStore
	crc    *crcKit
	reqPfx uint32
	reqSeq atomic.Uint64
	done   chan struct{}
	// life guards active (running handlers) and closed, so Close can wait.
	life    sync.Mutex
	idle    *sync.Cond
	active  int
	closing bool

	mu         sync.Mutex
	creds      map[string]*credential // access key id -> credential
	uploads    map[string]*upload     // upload id -> open upload
	objects    map[objectKey]*object
	onComplete []func(bucket, key string, size int64)
	calls      []Call
	callCount  map[Op]int
	faults     map[Op][]*fault
	holds      map[int]chan struct{} // part numbers whose UploadPart waits (HoldPart)
	latency    time.Duration
	bandwidth  int64
	closeOnce  sync.Once
}

// NewServer starts a Server on 127.0.0.1 with a random port. It panics if it
// cannot listen, as httptest.NewServer does.
func NewServer(cfg Config) *Server {
	s, err := NewServerAt("127.0.0.1:0", cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// NewServerAt starts a Server on addr, which should be a loopback address so
// that the SDK's IP-literal endpoint rule selects path-style URLs.
func NewServerAt(addr string, cfg Config) (*Server, error) {
	cfg.setDefaults()
	store, err := newBlobStore(cfg.Dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		store.close()
		return nil, fmt.Errorf("osstest: listen %s: %w", addr, err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "osstest"),
		ln:        ln,
		url:       "http://" + ln.Addr().String(),
		store:     store,
		crc:       newCRCKit(),
		reqPfx:    binary.BigEndian.Uint32(b[:]),
		done:      make(chan struct{}),
		creds:     make(map[string]*credential),
		uploads:   make(map[string]*upload),
		objects:   make(map[objectKey]*object),
		callCount: make(map[Op]int),
		faults:    make(map[Op][]*fault),
	}
	s.idle = sync.NewCond(&s.life)
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ServeFailed", "err", err)
		}
	}()
	return s, nil
}

// URL returns the base URL, "http://127.0.0.1:PORT". Pass it to oss.New as
// the endpoint: the IP literal makes the SDK use path-style requests.
func (s *Server) URL() string { return s.url }

// Close stops the listener, drops every connection (in-flight requests fail)
// and, in Dir mode, removes the files the server created. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Not Shutdown: it waits up to 5s for connections that the client
		// dialled but never used. Close drops every connection at once; the
		// handlers then fail fast and are waited for (briefly).
		_ = s.hs.Close()
		<-s.done
		s.life.Lock()
		s.closing = true
		timer := time.AfterFunc(5*time.Second, func() {
			s.life.Lock()
			defer s.life.Unlock()
			s.idle.Broadcast()
		})
		for deadline := time.Now().Add(5 * time.Second); s.active > 0 && time.Now().Before(deadline); {
			s.idle.Wait()
		}
		s.life.Unlock()
		timer.Stop()
		s.store.close()
	})
}

func (s *Server) now() time.Time { return s.cfg.Clock() }

func (s *Server) newRequestID() string {
	return fmt.Sprintf("%08X%016X", s.reqPfx, s.reqSeq.Add(1))
}

// ServeHTTP implements [http.Handler]: /_sim/ is the inspection API, every
// other path is path-style OSS (/<bucket>/<key…>).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "osstest: server closed", http.StatusServiceUnavailable)
		return
	}
	defer s.leave()
	if strings.HasPrefix(r.URL.Path, simPrefix) {
		s.serveSim(w, r)
		return
	}
	s.serveOSS(w, r)
}

func (s *Server) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing {
		return false
	}
	s.active++
	return true
}

func (s *Server) leave() {
	s.life.Lock()
	defer s.life.Unlock()
	if s.active--; s.active == 0 {
		s.idle.Broadcast()
	}
}

// splitPath returns bucket and key from the decoded path "/bucket/key…".
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// validBucket applies the OSS bucket naming rule: 3–63 chars of [a-z0-9-],
// not starting or ending with '-'.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
