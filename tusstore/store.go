package tusstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	"go.opentelemetry.io/otel/trace"

	"github.com/vodgate/vodgate/vodbridge"
)

// Defaults applied by [Config] when a field is zero.
const (
	DefaultPartSize      = 8 << 20           // 8 MiB
	MinPartSize          = 100 << 10         // OSS minimum for every part but the last
	MaxPartSize          = 5 << 30           // OSS maximum part size
	MaxParts             = 10000             // OSS maximum part count
	MaxObjectSize        = 48_800 << 30      // ~48.8 TB, the OSS object limit (rounded down)
	DefaultRefreshBefore = 500 * time.Second // refresh at 2,500 s of VOD's 3,000 s
	DefaultExpiration    = 72 * time.Hour    // below VOD's 7-day cleanup of leftover parts
	DefaultBufferBudget  = 512 << 20         // bytes of part buffers across all uploads
	// DefaultOSSParallelParts is how many parts of one upload go to OSS at
	// once by default. Measured (bench/compare, 30 ms RTT and 50 MiB/s per
	// connection to OSS, 1 GiB in one PATCH): 4 parts 157 MiB/s, 8 parts
	// 293, 12 parts 411, against tusd-s3's 302; on loopback it changes
	// nothing measurable.
	DefaultOSSParallelParts = 12
	DefaultOSSTimeout       = 2 * time.Minute
	DefaultOSSAttempts      = 3
)

// Issuer obtains and refreshes VOD upload targets. *vodbridge.Client
// implements it.
type Issuer interface {
	CreateUpload(ctx context.Context, req vodbridge.CreateRequest) (vodbridge.Target, error)
	RefreshUpload(ctx context.Context, videoID string) (vodbridge.Target, error)
	DeleteMedia(ctx context.Context, t vodbridge.MediaType, id string) error
}

// Records persists upload records as hashes of opaque fields.
// internal/redisstate implements it. Errors may implement NotFound() bool,
// Exists() bool, Fenced() bool and Temporary() bool.
type Records interface {
	// Create stores a new record; it fails if id exists.
	Create(ctx context.Context, id string, fields map[string][]byte) error
	// Load returns every field of the record.
	Load(ctx context.Context, id string) (map[string][]byte, error)
	// Update sets and deletes fields atomically, and only if the fence
	// (when fenceKey is not empty) still holds token.
	Update(ctx context.Context, id, fenceKey string, token int64, set map[string][]byte, del []string) error
	// Delete removes the record, under the same fence rule as Update.
	Delete(ctx context.Context, id, fenceKey string, token int64) error
}

// Fencer reports the fencing token of a lock this process holds on an
// upload. *locker.Locker implements it.
type Fencer interface {
	Fence(id string) (key string, token int64, ok bool)
}

// Defaults are the VOD parameters used when an upload's metadata leaves
// them out.
type Defaults struct {
	TemplateGroupID string `yaml:"template-group-id"`
	WorkflowID      string `yaml:"workflow-id"`
	CateID          int64  `yaml:"cate-id"`
	StorageLocation string `yaml:"storage-location"`
	AppID           string `yaml:"app-id"`
	Tags            string `yaml:"tags"`
	UserData        string `yaml:"user-data"`
}

// Config configures a [Store]. VOD and Records are required.
type Config struct {
	VOD     Issuer
	Records Records
	// CallerOf, if set, returns the authenticated caller of a request
	// (from the request context). Uploads then belong to their creator's
	// Owner and honour the caller's caps and fixed parameters.
	CallerOf func(ctx context.Context) (Caller, bool)
	// Fencer, if set, makes every record write conditional on the
	// upload's current lock token.
	Fencer Fencer
	// Defaults fills VOD parameters that the metadata leaves out.
	Defaults Defaults
	// PartSize is the target OSS part size; it grows for large uploads so
	// that at most 10,000 parts are used. Default: 8 MiB.
	PartSize int64
	// MinPartSize is the smallest non-last part. Default: 100 KiB (OSS).
	MinPartSize int64
	// MaxSize caps Upload-Length. Default: 48.8 TB.
	MaxSize int64
	// BufferBudget caps the bytes of part buffers held by all uploads;
	// beyond it a PATCH gets 503 with Retry-After. Default: 512 MiB.
	BufferBudget int64
	// RefreshBefore is how long before a credential's deadline it is
	// refreshed. Default: 500s.
	RefreshBefore time.Duration
	// Expiration is how long an unfinished upload is kept after its last
	// write. Default: 72h; must stay below VOD's 7 days.
	Expiration time.Duration
	// DeleteMediaOnTerminate also deletes the VOD media on tus DELETE.
	DeleteMediaOnTerminate bool
	// Journal, if set, learns of each upload's creation and end (the
	// upload list).
	Journal Journal
	// OSSEndpoint, if set, replaces the endpoint VOD hands out (e.g. an
	// accelerate or -internal endpoint).
	OSSEndpoint string
	// OSSAccelerate, if set, is the acceleration endpoint every upload's
	// bytes go to (e.g. https://oss-accelerate.aliyuncs.com); an upload
	// whose UserData carries AccelerateConfig uses its Domain instead.
	OSSAccelerate string
	// OSSAuthV4 signs OSS requests with V4 instead of V1.
	OSSAuthV4 bool
	// OSSTimeout bounds one OSS request. Default: 2m.
	OSSTimeout time.Duration
	// OSSAttempts bounds attempts of one OSS call. Default: 3.
	OSSAttempts int
	// OSSRegion is the region for V4 signing when the credential names
	// none. Default: cn-shanghai.
	OSSRegion string
	// HTTPClient is used for OSS. Default: a client with OSSTimeout.
	HTTPClient *http.Client
	// Clock returns the time. Default: time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// TracerProvider, if set, gets a client span per OSS call ("oss
	// UploadPart", "oss CompleteMultipartUpload", ...) below the request's
	// span. If nil, OSS calls are not wrapped at all.
	TracerProvider trace.TracerProvider
	// Groups, if set, enables parallel uploads (tus concatenation with
	// the vodGroup metadata key, see concat.go): it numbers the partial
	// uploads of a group in arrival order.
	Groups Groups
	// BufferPrefault touches all of the buffer budget's memory when the
	// store is made, so no upload pays its first-touch page faults; the
	// gateway then keeps BufferBudget resident. Default: off (memory is
	// touched as uploads first need it, and kept).
	BufferPrefault bool
	// OSSParallelParts is how many parts of one upload may be in flight to
	// OSS at once, while the budget has room for more than the two part
	// buffers every upload is sure of. Default: DefaultOSSParallelParts.
	OSSParallelParts int
}

func (c *Config) setDefaults() {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.MinPartSize == 0 {
		c.MinPartSize = MinPartSize
	}
	if c.MaxSize == 0 {
		c.MaxSize = MaxObjectSize
	}
	if c.BufferBudget == 0 {
		c.BufferBudget = DefaultBufferBudget
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = DefaultRefreshBefore
	}
	if c.Expiration == 0 {
		c.Expiration = DefaultExpiration
	}
	if c.OSSRegion == "" {
		c.OSSRegion = "cn-shanghai"
	}
	if c.OSSTimeout == 0 {
		c.OSSTimeout = DefaultOSSTimeout
	}
	if c.OSSAttempts == 0 {
		c.OSSAttempts = DefaultOSSAttempts
	}
	if c.OSSParallelParts == 0 {
		c.OSSParallelParts = DefaultOSSParallelParts
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports whether c is usable, without I/O.
func (c *Config) Validate() error {
	switch {
	case c.VOD == nil:
		return errors.New("tusstore: config: VOD is required")
	case c.Records == nil:
		return errors.New("tusstore: config: Records is required")
	case c.MinPartSize < 1:
		return fmt.Errorf("tusstore: config: min part size %d must be positive", c.MinPartSize)
	case c.PartSize < c.MinPartSize || c.PartSize > MaxPartSize:
		return fmt.Errorf("tusstore: config: part size %d outside [%d, %d]", c.PartSize, c.MinPartSize, int64(MaxPartSize))
	case c.BufferBudget < 2*c.PartSize:
		return fmt.Errorf("tusstore: config: buffer budget %d below two parts of %d", c.BufferBudget, c.PartSize)
	case c.Expiration >= 7*24*time.Hour:
		return fmt.Errorf("tusstore: config: expiration %s must stay below VOD's 7-day part cleanup", c.Expiration)
	case c.OSSParallelParts < 1:
		return fmt.Errorf("tusstore: config: oss parallel parts %d must be at least 1", c.OSSParallelParts)
	case c.RefreshBefore < 0:
		return fmt.Errorf("tusstore: config: negative refresh-before %s", c.RefreshBefore)
	}
	return nil
}

var _ handler.DataStore = (*Store)(nil)

// Store is a tusd DataStore that turns each tus upload into a VOD media
// and its OSS multipart upload. See the package doc for the mapping.
type Store struct {
	cfg        Config
	budget     *budget
	crcTable   *crcTable
	httpClient *http.Client
	log        *slog.Logger
	metrics    *metrics
	media      *mediaCache
	tracer     trace.Tracer // nil: OSS calls are not traced
	// open, if set, replaces the SDK adapter (tests).
	open func(*recordInfo, *recordCred) (object, error)
}

// New returns a Store. It does no I/O.
func New(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var tracer trace.Tracer
	if cfg.TracerProvider != nil {
		tracer = cfg.TracerProvider.Tracer("github.com/vodgate/vodgate/tusstore")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(cfg.OSSTimeout, int(cfg.BufferBudget/cfg.PartSize)+16)
	}
	return &Store{
		cfg:        cfg,
		budget:     newBudget(cfg.BufferBudget, 2*time.Second, cfg.BufferPrefault),
		crcTable:   newCRCTable(),
		httpClient: hc,
		log:        cfg.Logger.With("component", "tusstore"),
		metrics:    newMetrics(),
		media:      newMediaCache(100_000),
		tracer:     tracer,
	}, nil
}

// UseIn registers the store as core, terminater and length deferrer.
func (s *Store) UseIn(c *handler.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseLengthDeferrer(s)
	if s.cfg.Groups != nil {
		c.UseConcater(s)
	}
}

// AsTerminatableUpload implements [handler.TerminaterDataStore].
func (s *Store) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*upload)
}

// AsLengthDeclarableUpload implements [handler.LengthDeferrerDataStore].
func (s *Store) AsLengthDeclarableUpload(u handler.Upload) handler.LengthDeclarableUpload {
	return u.(*upload)
}

// NewUpload creates the VOD media and stores the record. It makes no OSS
// call: the OSS multipart upload is initiated when the first part is sent,
// and an upload that never has a part (under MinPartSize) is written with
// one PutObject when it finishes. The exception is an empty upload (length
// 0, not deferred), which tusd finishes right after creation without
// taking its lock: its empty object is written here, and the record is
// created finished. Invalid metadata gets a 400 naming the problem.
func (s *Store) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	if info.IsPartial || info.IsFinal {
		return s.newConcatUpload(ctx, info)
	}
	req, owner, capSize, err := s.admit(ctx, info, info.Size)
	if err != nil {
		return nil, err
	}
	if info.ID == "" {
		info.ID = presetID(ctx)
	}
	if info.ID == "" {
		if info.ID, err = newID(); err != nil {
			return nil, err
		}
	}
	// A media created while its record cannot be written would be left
	// in Uploading until VOD's cleanup: check the state store first.
	if p, ok := s.cfg.Records.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return nil, s.tusError("check state", err)
		}
	}
	target, err := s.createMedia(ctx, req)
	if err != nil {
		return nil, s.tusError("create media", err)
	}
	now := s.cfg.Clock()
	u := &upload{s: s, id: info.ID, rec: &record{
		info: recordInfo{
			Size: info.Size, SizeIsDeferred: info.SizeIsDeferred, MetaData: info.MetaData,
			MediaID: target.MediaID, MediaType: string(target.Type),
			Endpoint: target.Address.Endpoint, Bucket: target.Address.Bucket, Key: target.Address.FileName,
			Accelerate: s.accelerateEndpoint(req.UserData),
			Created:    now, Expires: now.Add(s.cfg.Expiration), Owner: owner, MaxSize: capSize, Updated: now,
		},
		cred: credFrom(target.Credential, now),
	}}
	empty := !info.SizeIsDeferred && info.Size == 0
	if empty {
		if err := u.putObject(ctx, bytesBody(nil, 0)); err != nil {
			return nil, s.tusError("put empty object", err)
		}
		u.rec.info.Finished = true
		u.rec.info.Durable = 0
	}
	fields, err := encodeRecord(u.rec)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Records.Create(ctx, u.id, fields); err != nil {
		if hasClass(err, "Exists") {
			// A preset ID (WithReference) whose earlier attempt recorded
			// this very media: it is not an orphan.
			return nil, s.tusError("create record", err)
		}
		s.deleteOrphan(ctx, target)
		return nil, s.tusError("create record", err)
	}
	s.media.put(u.id, &u.rec.info)
	s.metrics.created.WithLabelValues(u.rec.info.MediaType).Inc()
	s.log.InfoContext(ctx, "MediaCreated", "id", u.id, "mediaId", target.MediaID, "mediaType", target.Type,
		"size", info.Size, "bucket", target.Address.Bucket, "key", target.Address.FileName)
	s.journalCreated(ctx, u, req.FileName, req.Title)
	if empty {
		u.logFinished(ctx, 0)
	}
	return u, nil
}

// GetUpload loads the record of id.
func (s *Store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	rec, err := s.loadVisible(ctx, id)
	if err != nil {
		return nil, err
	}
	u := &upload{s: s, id: id, rec: rec}
	u.holdToken()
	return u, nil
}

// Admit reports whether a request may act on upload id: the ID has the
// shape NewUpload mints, the upload exists and has not expired, and the
// caller in ctx owns it. It is meant to run before tusd takes the upload's
// lock, so a request that is not the owner's never steals, waits for or
// creates the lock. It reads the record once (nothing for a malformed ID)
// and writes nothing. The error is non-nil only when the state cannot be
// read; it is a tus error (e.g. 503 ERR_STATE_UNAVAILABLE).
func (s *Store) Admit(ctx context.Context, id string) (bool, error) {
	_, err := s.loadVisible(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, handler.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// loadVisible loads and decodes the record of id if the caller in ctx may
// see it; otherwise it returns handler.ErrNotFound, revealing nothing.
func (s *Store) loadVisible(ctx context.Context, id string) (*record, error) {
	if !ValidID(id) {
		return nil, handler.ErrNotFound // no Redis round trip for what was never minted
	}
	m, err := s.cfg.Records.Load(ctx, id)
	if err != nil {
		return nil, s.tusError("load record", err)
	}
	rec, err := decodeRecord(m)
	if err != nil {
		return nil, err
	}
	if !rec.info.Finished && !rec.info.Expires.IsZero() && s.cfg.Clock().After(rec.info.Expires) {
		return nil, handler.ErrNotFound // expired; the record's TTL removes it
	}
	if !s.visible(ctx, &rec.info) {
		return nil, handler.ErrNotFound // do not reveal that the upload exists
	}
	s.media.put(id, &rec.info)
	return rec, nil
}

// MediaOf returns the VOD media of an upload, for the Vod-Media-Id and
// Vod-Media-Type response headers. It reads Redis only on a cache miss.
func (s *Store) MediaOf(ctx context.Context, id string) (mediaID, mediaType string, ok bool) {
	m, ok := s.describe(ctx, id)
	return m.id, m.typ, ok
}

// ExpiresOf returns when an unfinished upload expires, for the
// Upload-Expires header (ok=false when unknown or finished).
func (s *Store) ExpiresOf(ctx context.Context, id string) (time.Time, bool) {
	m, ok := s.describe(ctx, id)
	return m.expires, ok && !m.expires.IsZero()
}

func (s *Store) describe(ctx context.Context, id string) (cachedMedia, bool) {
	if m, ok := s.media.get(id); ok {
		return m, true
	}
	if _, err := s.GetUpload(ctx, id); err != nil {
		return cachedMedia{}, false
	}
	return s.media.get(id)
}

// pinger is implemented by Records that can tell whether the state store
// answers (internal/redisstate does); NewUpload asks before creating media.
type pinger interface {
	Ping(ctx context.Context) error
}

// deleteOrphan deletes the media of a creation whose record could not be
// written, so no media is left behind in Uploading; the client's retry
// creates a new one. It outlives the request's context.
func (s *Store) deleteOrphan(ctx context.Context, t vodbridge.Target) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.cfg.VOD.DeleteMedia(dctx, t.Type, t.MediaID); err != nil && !errors.Is(err, vodbridge.ErrNotFound) {
		s.log.WarnContext(ctx, "OrphanMediaNotDeleted", "mediaId", t.MediaID, "mediaType", t.Type, "error", err)
		return
	}
	s.log.InfoContext(ctx, "OrphanMediaDeleted", "mediaId", t.MediaID, "mediaType", t.Type)
}

// idLen is the length of the upload IDs newID mints: 16 random bytes in
// lowercase hex.
const idLen = 32

// ValidID reports whether id has the shape of an upload ID this store
// mints (32 lowercase hexadecimal digits). Anything else cannot name an
// upload, so it is refused before any state is read or written.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("tusstore: upload id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// defaultHTTPClient keeps about one idle connection per upload the buffer
// budget allows, so bursts of uploads reuse connections to OSS.
func defaultHTTPClient(timeout time.Duration, idle int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no global cap
	t.MaxIdleConnsPerHost = idle
	t.ResponseHeaderTimeout = timeout
	t.DialContext = newBodyDialer(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}
