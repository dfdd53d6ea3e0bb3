package vodbridge

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// MediaType selects the VOD media kind and so the Create*/Delete* actions.
type MediaType string

// Media types.
const (
	MediaVideo    MediaType = "video"    // CreateUploadVideo, RefreshUploadVideo, DeleteVideo
	MediaImage    MediaType = "image"    // CreateUploadImage, DeleteImage
	MediaAttached MediaType = "attached" // CreateUploadAttachedMedia, DeleteAttachedMedia
)

// Address is the decoded UploadAddress: where the bytes of a media go.
// RefreshUploadVideo keeps it unchanged. It holds no secret.
type Address struct {
	// Endpoint is the OSS endpoint with a scheme, e.g.
	// "https://oss-cn-shanghai.aliyuncs.com" (or the simulator's
	// "http://127.0.0.1:PORT"). A scheme-less endpoint from VOD gets "https://".
	Endpoint string
	// Bucket is the VOD-owned bucket, e.g. "outin-<32hex>".
	Bucket string
	// FileName is the object key VOD chose. Opaque; it contains '/'.
	FileName string
	// ObjectPrefix is where the official uploaders put HLS slices; usually
	// empty.
	ObjectPrefix string
}

// Credential is the decoded UploadAuth: an STS credential scoped by VOD to
// one Address. AccessKeySecret and SecurityToken are secrets: String,
// GoString and LogValue redact them. Encoding a Credential with
// encoding/json is NOT redacted (that is how records are persisted); never
// log such an encoding.
type Credential struct {
	AccessKeyID     string // "STS.…"
	AccessKeySecret string // secret
	SecurityToken   string // secret ("CAIS…")
	// Region is the OSS region for V4 signing: UploadAuth.Region, else derived
	// from Address.Endpoint ("oss-<region>[-internal].aliyuncs.com"), else the
	// client's Region.
	Region string
	// Expires is when the gateway must stop using the credential:
	// min(ExpireUTCTime, issue+Expiration seconds, issue+CredentialLifetime),
	// where issue is the client clock just before the request was sent.
	Expires time.Time
}

// Expired reports whether the credential is expired at now or will expire
// within margin.
func (c Credential) Expired(now time.Time, margin time.Duration) bool {
	return !now.Add(margin).Before(c.Expires)
}

const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns a description with the secrets redacted.
func (c Credential) String() string {
	return fmt.Sprintf("Credential{AccessKeyID:%s AccessKeySecret:%s SecurityToken:%s Region:%s Expires:%s}",
		c.AccessKeyID, redact(c.AccessKeySecret), redact(c.SecurityToken), c.Region, c.Expires.UTC().Format(time.RFC3339))
}

// GoString makes %#v redact too.
func (c Credential) GoString() string { return "vodbridge." + c.String() }

// LogValue implements [slog.LogValuer]: only the AccessKey id, region and
// expiry are logged.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("access_key_secret", redact(c.AccessKeySecret)),
		slog.String("security_token", redact(c.SecurityToken)),
		slog.String("region", c.Region),
		slog.Time("expires", c.Expires),
	)
}

// Target is what a Create*/Refresh call yields: the media, where to put its
// bytes and the credential to do it with. String, GoString and LogValue
// redact the credential's secrets.
type Target struct {
	MediaID    string // VideoId, ImageId or MediaId
	Type       MediaType
	Address    Address
	Credential Credential
	// MediaURL is ImageURL (image) or MediaURL (attached) as returned by VOD;
	// empty for video.
	MediaURL string
}

// String returns a description with the secrets redacted.
func (t Target) String() string {
	return fmt.Sprintf("Target{MediaID:%s Type:%s Address:%+v Credential:%s MediaURL:%s}",
		t.MediaID, t.Type, t.Address, t.Credential, t.MediaURL)
}

// GoString makes %#v redact too.
func (t Target) GoString() string { return "vodbridge." + t.String() }

// LogValue implements [slog.LogValuer] with the credential redacted.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("media_id", t.MediaID),
		slog.String("type", string(t.Type)),
		slog.Group("address",
			slog.String("endpoint", t.Address.Endpoint),
			slog.String("bucket", t.Address.Bucket),
			slog.String("file_name", t.Address.FileName),
		),
		slog.Any("credential", t.Credential),
		slog.String("media_url", t.MediaURL),
	)
}

// regionFromEndpoint extracts "cn-shanghai" from
// "https://oss-cn-shanghai[-internal].aliyuncs.com"; "" if it does not match.
func regionFromEndpoint(endpoint string) string {
	host := endpoint
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host, _, _ = strings.Cut(host, "/")
	label, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.HasPrefix(label, "oss-") || !strings.HasSuffix(rest, "aliyuncs.com") {
		return ""
	}
	r := strings.TrimPrefix(label, "oss-")
	r = strings.TrimSuffix(r, "-internal")
	if r == "accelerate" || r == "accelerate-overseas" || !validRegion(r) {
		return ""
	}
	return r
}
