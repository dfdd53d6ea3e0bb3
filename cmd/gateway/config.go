package main

import (
	"time"

	"github.com/vodgate/vodgate/internal/acme"
	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/events"
	"github.com/vodgate/vodgate/internal/idempotency"
	"github.com/vodgate/vodgate/internal/limits"
	"github.com/vodgate/vodgate/internal/reaper"
	"github.com/vodgate/vodgate/internal/resumable"
	"github.com/vodgate/vodgate/internal/server"
	"github.com/vodgate/vodgate/internal/uploadlist"
	"github.com/vodgate/vodgate/internal/vodcallback"
	"github.com/vodgate/vodgate/internal/vodquota"
	"github.com/vodgate/vodgate/tusstore"
)

// Config is the gateway's whole configuration. Every field with a yaml tag
// is a key of the YAML file, a flag of the same name and an environment
// variable VODGATE_<KEY> (upper snake case), except fields tagged
// flag:"-", which only the file (and the ALIBABA_CLOUD_* variables) set.
// Precedence: flag > environment > file > default. The usage tag is the
// flag's help text; configs/gateway.example.yaml documents the same keys.
type Config struct {
	// HTTP
	Listen      string `yaml:"listen" usage:"TCP address to listen on"`
	BasePath    string `yaml:"base-path" usage:"URL path of the tus endpoint"`
	CORSOrigins List   `yaml:"cors-origins" usage:"comma-separated origins allowed to upload from browsers: * (any), https://app.example.com, https://*.example.com; empty disables CORS"`
	BehindProxy bool   `yaml:"behind-proxy" usage:"trust X-Forwarded-Host/-Proto and Forwarded for upload URLs (only behind a proxy that sets them)"`
	PublicURL   string `yaml:"public-url" usage:"scheme and host clients reach the gateway at (e.g. https://upload.example.com); upload URLs (Location) use it instead of the request's Host header"`
	LogLevel    string `yaml:"log-level" usage:"log level: debug, info, warn or error"`

	// Timeouts
	ReadHeaderTimeout        time.Duration `yaml:"read-header-timeout" usage:"time allowed to read request headers"`
	IdleTimeout              time.Duration `yaml:"idle-timeout" usage:"keep-alive idle connection timeout"`
	NetworkTimeout           time.Duration `yaml:"network-timeout" usage:"timeout of each read of a request body; a stalled upload is cut after it"`
	RequestCompletionTimeout time.Duration `yaml:"request-completion-timeout" usage:"time the store gets after a request ends (e.g. is interrupted) to persist what it received"`
	AcquireLockTimeout       time.Duration `yaml:"acquire-lock-timeout" usage:"how long a request waits for an upload's lock"`
	ShutdownTimeout          time.Duration `yaml:"shutdown-timeout" usage:"bound on graceful shutdown after SIGTERM/SIGINT"`

	// Redis
	RedisURL          string        `yaml:"redis-url" usage:"Redis URL: redis://[user:password@]host:port/db (rediss:// for TLS); Sentinel redis://S1:26379/0?master_name=M&addr=S2:26379; Cluster redis+cluster://N1:6379?addr=N2:6379"`
	RedisPrefix       string        `yaml:"redis-prefix" usage:"prefix of every Redis key"`
	LockTTL           time.Duration `yaml:"lock-ttl" usage:"TTL of an upload's Redis lock; renewed while held, so a crashed holder frees it after this"`
	RedisWaitReplicas int           `yaml:"redis-wait-replicas" usage:"replicas that must acknowledge each upload-record write (Redis WAIT) before bytes are acknowledged; 0 = none"`
	RedisWaitTimeout  time.Duration `yaml:"redis-wait-timeout" usage:"how long a record write waits for redis-wait-replicas before failing with 503"`

	// VOD
	VODRegion      string        `yaml:"vod-region" usage:"ApsaraVideo VOD region"`
	VODEndpoint    string        `yaml:"vod-endpoint" usage:"VOD API endpoint host[:port]; empty: the region's public endpoint"`
	VODProtocol    string        `yaml:"vod-protocol" usage:"VOD API protocol: https or http"`
	VODTimeout     time.Duration `yaml:"vod-timeout" usage:"timeout of one VOD API attempt"`
	VODMaxAttempts int           `yaml:"vod-max-attempts" usage:"attempts per VOD API call (retries throttling, 5xx, network errors)"`
	// Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET
	// and ALIBABA_CLOUD_SECURITY_TOKEN override these (discouraged) file keys.
	AccessKeyID     string `yaml:"access-key-id" flag:"-"`
	AccessKeySecret string `yaml:"access-key-secret" flag:"-"`
	SecurityToken   string `yaml:"security-token" flag:"-"`

	// OSS
	OSSEndpoint string        `yaml:"oss-endpoint" usage:"OSS endpoint to use instead of the one VOD returns (e.g. an -internal or accelerate endpoint)"`
	OSSAuthV4   bool          `yaml:"oss-auth-v4" usage:"sign OSS requests with signature V4 (default); false signs with V1"`
	OSSTimeout  time.Duration `yaml:"oss-timeout" usage:"timeout of one OSS request"`
	OSSAttempts int           `yaml:"oss-attempts" usage:"attempts per OSS call"`

	// Uploads
	PartSize               ByteSize      `yaml:"part-size" usage:"target OSS part size; grows for large uploads to stay within 10,000 parts"`
	MaxSize                ByteSize      `yaml:"max-size" usage:"largest accepted Upload-Length; 0: the OSS object limit (48.8 TB)"`
	BufferBudget           ByteSize      `yaml:"buffer-budget" usage:"memory for part buffers across all uploads; beyond it PATCH gets 503 with Retry-After"`
	RefreshBefore          time.Duration `yaml:"refresh-before" usage:"refresh VOD upload credentials this long before they expire"`
	Expiration             time.Duration `yaml:"expiration" usage:"unfinished uploads expire this long after their last write (below VOD's 7 days)"`
	DeleteMediaOnTerminate bool          `yaml:"delete-media-on-terminate" usage:"also delete the VOD media on tus DELETE"`

	// VOD parameters used when the upload metadata leaves them out.
	DefaultTemplateGroupID string `yaml:"default-template-group-id" usage:"VOD TemplateGroupId when the metadata has no templateGroupId"`
	DefaultWorkflowID      string `yaml:"default-workflow-id" usage:"VOD WorkflowId when the metadata has no workflowId"`
	DefaultCateID          int64  `yaml:"default-cate-id" usage:"VOD CateId when the metadata has no cateId; 0: none"`
	DefaultStorageLocation string `yaml:"default-storage-location" usage:"VOD StorageLocation when the metadata has no storageLocation"`
	DefaultAppID           string `yaml:"default-app-id" usage:"VOD AppId when the metadata has no appId"`
	DefaultTags            string `yaml:"default-tags" usage:"comma-separated VOD Tags when the metadata has no tags"`
	DefaultUserData        string `yaml:"default-user-data" usage:"VOD UserData JSON when the metadata has no userData"`
	UserDataCallbackHosts  List   `yaml:"user-data-callback-hosts" usage:"comma-separated hosts (host or *.domain) a client's userData MessageCallback.CallbackURL may name; empty: clients may not set MessageCallback"`
	UserDataClientExtend   bool   `yaml:"user-data-client-extend" usage:"let clients set userData Extend (default: only the app server, through the pre-create hook or default-user-data)"`

	// Authentication (internal/auth; README "Authentication and limits").
	// Secrets are read from files, never from flags or the environment.
	AuthJWTSecretFile      string        `yaml:"auth-jwt-secret-file" usage:"file holding the HS256 JWT secret (at least 32 bytes); enables HS256 bearer JWTs"`
	AuthJWKSURL            string        `yaml:"auth-jwks-url" usage:"JWKS URL whose RSA and P-256 keys verify RS256 and ES256 bearer JWTs"`
	AuthJWTIssuer          string        `yaml:"auth-jwt-issuer" usage:"required iss claim of JWTs; empty: not checked"`
	AuthJWTAudience        List          `yaml:"auth-jwt-audience" usage:"comma-separated aud values accepted in JWTs; empty: not checked"`
	AuthJWTAlgorithms      List          `yaml:"auth-jwt-algorithms" usage:"comma-separated JWT algorithms accepted (HS256, RS256, ES256); empty: all those the configured keys allow"`
	AuthJWTLeeway          time.Duration `yaml:"auth-jwt-leeway" usage:"clock skew allowed on JWT exp and nbf, and on upload token exp"`
	AuthJWKSRefresh        time.Duration `yaml:"auth-jwks-refresh" usage:"how long fetched JWKS keys are used before fetching them again"`
	AuthUploadTokenKeyFile string        `yaml:"auth-upload-token-key-file" usage:"file of HMAC keys for upload tokens, one per line (32+ bytes each); all verify, the first mints (gateway token)"`
	AuthHookURL            string        `yaml:"auth-hook-url" usage:"pre-create hook: URL of the app server asked (POST JSON) before each upload is created"`
	AuthHookTimeout        time.Duration `yaml:"auth-hook-timeout" usage:"timeout of one pre-create hook attempt"`
	AuthHookAttempts       int           `yaml:"auth-hook-attempts" usage:"attempts per pre-create hook call (retries timeouts, network errors, 429, 5xx); then the creation fails with 503"`
	AuthHookHeaders        List          `yaml:"auth-hook-headers" usage:"request headers forwarded to the hook; Authorization only if listed"`
	AuthHookSecretFile     string        `yaml:"auth-hook-secret-file" usage:"file holding the key (32+ bytes) that signs hook calls in the Vodgate-Signature header"`

	// Limits (internal/limits), shared by all instances through Redis.
	LimitWindow          time.Duration `yaml:"limit-window" usage:"period of the request-rate limits (a sliding window)"`
	LimitIPRequests      int           `yaml:"limit-ip-requests" usage:"tus requests per client IP per limit-window (429); 0: no limit"`
	LimitOwnerRequests   int           `yaml:"limit-owner-requests" usage:"tus requests per authenticated owner per limit-window (429); 0: no limit"`
	LimitOwnerCreates    int           `yaml:"limit-owner-creates" usage:"uploads created per owner per limit-window (429); 0: no limit"`
	LimitOwnerUploads    int           `yaml:"limit-owner-uploads" usage:"unfinished uploads per owner (429); 0: no limit"`
	LimitUploadIdle      time.Duration `yaml:"limit-upload-idle" usage:"an unfinished upload without a PATCH for this long stops counting against limit-owner-uploads"`
	LimitFailClosed      bool          `yaml:"limit-fail-closed" usage:"answer 503 when Redis cannot check a limit (default: let the request through and log)"`
	LimitHeaderBytes     ByteSize      `yaml:"limit-header-bytes" usage:"largest request headers on the tus endpoint (431); 0: no limit below the server's 64 KiB"`
	LimitMetadataBytes   ByteSize      `yaml:"limit-metadata-bytes" usage:"largest Upload-Metadata header (400); 0: no limit"`
	LimitMinSpeed        ByteSize      `yaml:"limit-min-speed" usage:"slowest request body accepted, bytes per second averaged over limit-min-speed-window (408, connection closed); 0: off"`
	LimitMinSpeedWindow  time.Duration `yaml:"limit-min-speed-window" usage:"averaging window of limit-min-speed (time spent waiting for body bytes)"`
	LimitBodyIdleTimeout time.Duration `yaml:"limit-body-idle-timeout" usage:"cut a request body after this long without a byte (408); 0: only network-timeout"`

	// The upload API, its history and the reaper
	APIBasePath           string        `yaml:"api-base-path" usage:"URL path of the JSON upload API (list, find, cancel, clear uploads)"`
	APIAdminKeyFile       string        `yaml:"api-admin-key-file" usage:"file of bearer keys (one per line, 32+ bytes) that use the upload API as an admin, seeing every owner"`
	HistoryTTL            time.Duration `yaml:"history-ttl" usage:"how long ended uploads stay in the upload list"`
	StallAfter            time.Duration `yaml:"stall-after" usage:"an upload without a byte for this long is listed as stalled"`
	ExpiredMedia          string        `yaml:"expired-media" usage:"what the reaper does with the VOD media of an expired upload: delete or keep"`
	ReaperInterval        time.Duration `yaml:"reaper-interval" usage:"time between reaper passes over expired uploads (one instance reaps at a time)"`
	ReaperVODQPS          float64       `yaml:"reaper-vod-qps" usage:"uploads the reaper ends per second, to keep its VOD calls under VOD's per-account limits"`
	IdempotencyTTL        time.Duration `yaml:"idempotency-ttl" usage:"how long an Idempotency-Key on a tus creation is remembered per owner"`
	IdempotencyStaleAfter time.Duration `yaml:"idempotency-stale-after" usage:"how long a creation with an Idempotency-Key may run before a retry takes over (its first request died)"`

	// Events (Standard Webhooks) and VOD callbacks relayed
	WebhookURL         List          `yaml:"webhook-url" usage:"comma-separated endpoints that receive signed events; a fragment filters types, e.g. https://app.example/hooks#upload.completed+media.*"`
	WebhookSecretFile  string        `yaml:"webhook-secret-file" usage:"file of Standard Webhooks secrets (whsec_...), one per line; every delivery is signed with each (rotation)"`
	WebhookMaxAge      time.Duration `yaml:"webhook-max-age" usage:"how long an event is retried before it goes to the dead-letter stream"`
	WebhookConcurrency int           `yaml:"webhook-concurrency" usage:"deliveries in flight per endpoint (one upload's events stay in order)"`
	WebhookRetryBase   time.Duration `yaml:"webhook-retry-base" usage:"delay before the first retry of a failed delivery; doubled (with jitter) per attempt up to 10m"`
	VODCallbackPath    string        `yaml:"vod-callback-path" usage:"URL path that receives VOD's HTTP event callbacks and relays them as media.* events"`
	VODCallbackKeyFile string        `yaml:"vod-callback-key-file" usage:"file of VOD callback auth keys (one per line) that sign X-VOD-SIGNATURE; empty: the relay is off"`

	// VOD's account quotas, shared by all instances through Redis
	VODQuotaCreateQPS float64       `yaml:"vod-quota-create-qps" usage:"CreateUpload* and RefreshUploadVideo calls per second across all instances (VOD's account limit: 80, 40 outside the big regions); 0: no limit"`
	VODQuotaDeleteQPS float64       `yaml:"vod-quota-delete-qps" usage:"DeleteMultipartUpload and Delete* calls per second across all instances (VOD: 10); 0: no limit"`
	VODQuotaOtherQPS  float64       `yaml:"vod-quota-other-qps" usage:"other VOD calls per second across all instances; 0: no limit"`
	VODQuotaWait      time.Duration `yaml:"vod-quota-wait" usage:"longest a request waits for VOD's quota before it is answered 503 with Retry-After"`

	// Upload acceleration
	OSSAccelerate      bool `yaml:"oss-accelerate" usage:"send every upload's bytes to OSS's acceleration endpoint (https://oss-accelerate.aliyuncs.com) instead of the region's"`
	OSSAccelerateHosts List `yaml:"oss-accelerate-hosts" usage:"hosts a client's userData AccelerateConfig.Domain may name (the bytes and STS token go there)"`

	// Online files by URL (/url-uploads)
	URLUploadPrivateHosts List `yaml:"url-upload-private-hosts" usage:"source hosts of URL uploads allowed although they are private or loopback addresses (an intranet source VOD can reach); empty: none"`

	// Development mode
	Dev            bool   `yaml:"dev" usage:"run with in-process OSS/VOD simulators and an embedded Redis (no cloud account needed)"`
	DevDataDir     string `yaml:"dev-data-dir" usage:"-dev: directory for the bytes of simulated OSS objects and parts"`
	DevOSSListen   string `yaml:"dev-oss-listen" usage:"-dev: address of the OSS simulator"`
	DevVODListen   string `yaml:"dev-vod-listen" usage:"-dev: address of the VOD simulator"`
	DevRedisListen string `yaml:"dev-redis-listen" usage:"-dev: address of the embedded Redis"`

	// Browser page (internal/devpage)
	DemoPage bool `yaml:"demo-page" usage:"serve the upload page (Uppy) at / also without -dev (it always is with -dev)"`

	// Tracing (internal/tracing); the exporter is configured by OTEL_* variables.
	Tracing bool `yaml:"tracing" usage:"export OpenTelemetry traces over OTLP (also on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER=otlp is set)"`

	// TLS and protocols at the edge (internal/edge; README "TLS, HTTP/2 and HTTP/3").
	TLSCertFile string `yaml:"tls-cert-file" usage:"PEM certificate chain; with tls-key-file the listener speaks TLS (HTTP/1.1 and HTTP/2); reloaded when the file changes or on SIGHUP"`
	TLSKeyFile  string `yaml:"tls-key-file" usage:"PEM private key of tls-cert-file"`
	H2C         bool   `yaml:"h2c" usage:"without TLS, also serve HTTP/2 with prior knowledge (h2c) on the listener, for load balancers that speak it"`
	HTTP3       bool   `yaml:"http3" usage:"with TLS, also serve HTTP/3 (QUIC) on the same port over UDP, advertised with Alt-Svc"`

	// ACME (internal/acme): certificates obtained and renewed automatically
	// instead of tls-cert-file / tls-key-file.
	ACMEDomains    List   `yaml:"acme-domains" usage:"comma-separated names to obtain TLS certificates for from an ACME CA (TLS-ALPN-01 on the listener, which the CA must reach on port 443); instead of tls-cert-file"`
	ACMEEmail      string `yaml:"acme-email" usage:"contact e-mail of the ACME account"`
	ACMECA         string `yaml:"acme-ca" usage:"ACME directory URL"`
	ACMECARootFile string `yaml:"acme-ca-root-file" usage:"PEM roots trusted for the ACME CA's own HTTPS API (a private CA); empty: the system roots"`
	ACMEStorage    string `yaml:"acme-storage" usage:"where ACME certificates, keys and locks live: redis (the gateway's Redis, shared by all instances) or a directory"`

	// IETF resumable uploads (internal/resumable) on the tus endpoint.
	ResumableUploads         bool   `yaml:"resumable-uploads" usage:"also speak the IETF resumable-upload draft (interop versions 3 to 8, e.g. iOS URLSession) on the tus endpoint"`
	ResumableDefaultFilename string `yaml:"resumable-default-filename" usage:"file name of a draft upload whose request names none (Content-Disposition or Upload-Metadata); its extension follows Content-Type when known"`
	// Buffer memory and parallel parts (tusstore; README "Memory and parallel parts").
	BufferPrefault   bool `yaml:"buffer-prefault" usage:"touch all of buffer-budget's memory at start, so no upload pays first-touch page faults (the gateway then keeps buffer-budget resident)"`
	OSSParallelParts int  `yaml:"oss-parallel-parts" usage:"parts of one upload in flight to OSS at once, while the buffer budget has room"`
}

// Defaults not owned by a library package.
const (
	DefaultRedisURL       = "redis://127.0.0.1:6379/0"
	DefaultRedisPrefix    = "vodgate"
	DefaultLockTTL        = 5 * time.Second
	DefaultVODRegion      = "cn-shanghai"
	DefaultVODProtocol    = "https"
	DefaultVODTimeout     = 10 * time.Second
	DefaultVODMaxAttempts = 3
	DefaultDevDataDir     = "./.devdata"
	DefaultDevOSSListen   = "127.0.0.1:9080"
	DefaultDevVODListen   = "127.0.0.1:9081"
	DefaultDevRedisListen = "127.0.0.1:9082"
)

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Listen:      server.DefaultListen,
		BasePath:    server.DefaultBasePath,
		CORSOrigins: List{"*"},
		LogLevel:    "info",

		ReadHeaderTimeout:        server.DefaultReadHeaderTimeout,
		IdleTimeout:              server.DefaultIdleTimeout,
		NetworkTimeout:           server.DefaultNetworkTimeout,
		RequestCompletionTimeout: server.DefaultRequestCompletionTimeout,
		AcquireLockTimeout:       server.DefaultAcquireLockTimeout,
		ShutdownTimeout:          server.DefaultShutdownTimeout,

		RedisURL:         DefaultRedisURL,
		RedisPrefix:      DefaultRedisPrefix,
		LockTTL:          DefaultLockTTL,
		RedisWaitTimeout: time.Second,

		VODRegion:      DefaultVODRegion,
		VODProtocol:    DefaultVODProtocol,
		VODTimeout:     DefaultVODTimeout,
		VODMaxAttempts: DefaultVODMaxAttempts,

		OSSAuthV4:   true,
		OSSTimeout:  tusstore.DefaultOSSTimeout,
		OSSAttempts: tusstore.DefaultOSSAttempts,

		OSSParallelParts: tusstore.DefaultOSSParallelParts,

		PartSize:      tusstore.DefaultPartSize,
		BufferBudget:  tusstore.DefaultBufferBudget,
		RefreshBefore: tusstore.DefaultRefreshBefore,
		Expiration:    tusstore.DefaultExpiration,

		AuthJWTLeeway:    auth.DefaultLeeway,
		AuthJWKSRefresh:  auth.DefaultJWKSRefresh,
		AuthHookTimeout:  auth.DefaultHookTimeout,
		AuthHookAttempts: auth.DefaultHookAttempts,
		AuthHookHeaders:  append(List(nil), auth.DefaultHookHeaders...),

		LimitWindow:         limits.DefaultWindow,
		LimitUploadIdle:     limits.DefaultUploadIdle,
		LimitHeaderBytes:    limits.DefaultMaxHeaderBytes,
		LimitMetadataBytes:  limits.DefaultMaxMetadataBytes,
		LimitMinSpeed:       limits.DefaultMinSpeed,
		LimitMinSpeedWindow: limits.DefaultMinSpeedWindow,

		APIBasePath:    "/uploads",
		HistoryTTL:     uploadlist.DefaultHistoryTTL,
		StallAfter:     uploadlist.DefaultStallAfter,
		ExpiredMedia:   "delete",
		ReaperInterval: reaper.DefaultInterval,
		ReaperVODQPS:   reaper.DefaultVODQPS,

		IdempotencyTTL:        idempotency.DefaultTTL,
		IdempotencyStaleAfter: idempotency.DefaultStaleAfter,

		WebhookMaxAge:      events.DefaultMaxAge,
		WebhookConcurrency: events.DefaultConcurrency,
		WebhookRetryBase:   events.DefaultRetryBase,
		VODCallbackPath:    vodcallback.DefaultPath,

		VODQuotaCreateQPS: vodquota.DefaultCreateQPS,
		VODQuotaDeleteQPS: vodquota.DefaultDeleteQPS,
		VODQuotaWait:      vodquota.DefaultMaxWait,

		OSSAccelerateHosts: List{"oss-accelerate.aliyuncs.com", "oss-accelerate-overseas.aliyuncs.com"},

		DevDataDir:     DefaultDevDataDir,
		DevOSSListen:   DefaultDevOSSListen,
		DevVODListen:   DefaultDevVODListen,
		DevRedisListen: DefaultDevRedisListen,

		ACMECA:      acme.DefaultCA,
		ACMEStorage: "redis",

		ResumableUploads:         true,
		ResumableDefaultFilename: resumable.DefaultFilename,
	}
}
