package tusstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"go.opentelemetry.io/otel/attribute"
)

// object is the OSS calls tusstore makes on the one object of an upload.
// ossObject implements it with the official SDK.
type object interface {
	// Initiate starts a multipart upload of the object. tusstore calls it
	// only when the first part is about to be sent (see upload.initiate).
	Initiate(ctx context.Context) (uploadID string, err error)
	// UploadPart sends exactly size bytes from r as part n and returns the
	// part's ETag and the CRC-64 OSS reported (ok=false if none).
	UploadPart(ctx context.Context, uploadID string, n int, r io.Reader, size int64) (etag string, crc uint64, ok bool, err error)
	// Complete completes from parts (ascending) and returns the object's
	// CRC-64 as OSS reported it (ok=false if none).
	Complete(ctx context.Context, uploadID string, parts []part) (crc uint64, ok bool, err error)
	Abort(ctx context.Context, uploadID string) error
	// Put writes the whole object from exactly size bytes of r (size may
	// be 0), replacing any object at the key, and returns the object's
	// CRC-64 as OSS reported it (ok=false if none).
	Put(ctx context.Context, r io.Reader, size int64) (crc uint64, ok bool, err error)
	// Head returns the object's size and CRC-64 (ok=false if none).
	Head(ctx context.Context) (size int64, crc uint64, ok bool, err error)
}

// ossObject adapts *oss.Bucket to object for one key and credential.
type ossObject struct {
	bucket *oss.Bucket
	key    string
}

func (s *Store) openObject(info *recordInfo, cred *recordCred) (object, error) {
	o, err := s.openUntraced(info, cred)
	if err != nil || s.tracer == nil {
		return o, err
	}
	return &tracedObject{object: o, tracer: s.tracer,
		attrs: []attribute.KeyValue{attribute.String("oss.bucket", info.Bucket), attribute.String("oss.key", info.Key)}}, nil
}

func (s *Store) openUntraced(info *recordInfo, cred *recordCred) (object, error) {
	if s.open != nil {
		return s.open(info, cred)
	}
	endpoint := info.Endpoint
	if info.Accelerate != "" {
		endpoint = info.Accelerate
	}
	if s.cfg.OSSEndpoint != "" {
		endpoint = s.cfg.OSSEndpoint
	}
	opts := []oss.ClientOption{
		oss.SecurityToken(cred.SecurityToken),
		oss.HTTPClient(s.httpClient),
		oss.EnableCRC(false), // we compute CRC-64 while reading the client's bytes
	}
	if localHost(endpoint) {
		// The SDK uses path style for IP literals itself; a local host name
		// (a test or private endpoint) cannot take a bucket subdomain either.
		opts = append(opts, oss.ForcePathStyle(true))
	}
	if s.cfg.OSSAuthV4 {
		region := cred.Region
		if region == "" {
			region = s.cfg.OSSRegion
		}
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(region))
	}
	c, err := oss.New(endpoint, cred.AccessKeyID, cred.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("tusstore: oss client for %s: %w", endpoint, err)
	}
	b, err := c.Bucket(info.Bucket)
	if err != nil {
		return nil, fmt.Errorf("tusstore: oss bucket %s: %w", info.Bucket, err)
	}
	return &ossObject{bucket: b, key: info.Key}, nil
}

func (o *ossObject) imur(id string) oss.InitiateMultipartUploadResult {
	return oss.InitiateMultipartUploadResult{Bucket: o.bucket.BucketName, Key: o.key, UploadID: id}
}

func (o *ossObject) Initiate(ctx context.Context) (string, error) {
	r, err := o.bucket.InitiateMultipartUpload(o.key, oss.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("tusstore: initiate multipart upload: %w", err)
	}
	return r.UploadID, nil
}

func (o *ossObject) UploadPart(ctx context.Context, id string, n int, r io.Reader, size int64) (string, uint64, bool, error) {
	var h http.Header
	p, err := o.bucket.UploadPart(o.imur(id), r, size, n, oss.WithContext(ctx), oss.GetResponseHeader(&h))
	if err != nil {
		return "", 0, false, fmt.Errorf("tusstore: upload part %d: %w", n, err)
	}
	crc, ok := crcHeader(h)
	return p.ETag, crc, ok, nil
}

func (o *ossObject) Complete(ctx context.Context, id string, parts []part) (uint64, bool, error) {
	ps := make([]oss.UploadPart, len(parts))
	for i, p := range parts {
		ps[i] = oss.UploadPart{PartNumber: p.Number, ETag: p.ETag}
	}
	var h http.Header
	if _, err := o.bucket.CompleteMultipartUpload(o.imur(id), ps, oss.WithContext(ctx), oss.GetResponseHeader(&h)); err != nil {
		return 0, false, fmt.Errorf("tusstore: complete multipart upload: %w", err)
	}
	crc, ok := crcHeader(h)
	return crc, ok, nil
}

func (o *ossObject) Abort(ctx context.Context, id string) error {
	if err := o.bucket.AbortMultipartUpload(o.imur(id), oss.WithContext(ctx)); err != nil {
		return fmt.Errorf("tusstore: abort multipart upload: %w", err)
	}
	return nil
}

// Put, like UploadPart, leaves the CRC check to the caller, which compares
// the reported CRC-64 with the one computed over the bytes received (the
// client is built with EnableCRC(false)).
func (o *ossObject) Put(ctx context.Context, r io.Reader, size int64) (uint64, bool, error) {
	var h http.Header
	err := o.bucket.PutObject(o.key, &io.LimitedReader{R: r, N: size}, oss.WithContext(ctx), oss.GetResponseHeader(&h))
	if err != nil {
		return 0, false, fmt.Errorf("tusstore: put object: %w", err)
	}
	crc, ok := crcHeader(h)
	return crc, ok, nil
}

func (o *ossObject) Head(ctx context.Context) (int64, uint64, bool, error) {
	h, err := o.bucket.GetObjectDetailedMeta(o.key, oss.WithContext(ctx))
	if err != nil {
		return 0, 0, false, fmt.Errorf("tusstore: head object: %w", err)
	}
	size, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return 0, 0, false, fmt.Errorf("tusstore: head object: bad Content-Length %q", h.Get("Content-Length"))
	}
	crc, ok := crcHeader(h)
	return size, crc, ok, nil
}

// localHost reports whether endpoint (with or without a scheme) names
// localhost, where virtual-host addressing cannot resolve.
func localHost(endpoint string) bool {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

func crcHeader(h http.Header) (uint64, bool) {
	v := h.Get("X-Oss-Hash-Crc64ecma")
	if v == "" {
		return 0, false
	}
	c, err := strconv.ParseUint(v, 10, 64)
	return c, err == nil
}

// ossCode returns the OSS error code and HTTP status of err, if it is an
// OSS service error.
func ossCode(err error) (code string, status int, ok bool) {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code, se.StatusCode, true
	}
	var sp *oss.ServiceError
	if errors.As(err, &sp) {
		return sp.Code, sp.StatusCode, true
	}
	var ue oss.UnexpectedStatusCodeError
	if errors.As(err, &ue) {
		return "", ue.Got(), true
	}
	return "", 0, false
}

// credentialRejected reports whether OSS refused the credential in a way a
// refresh can fix.
func credentialRejected(err error) bool {
	code, status, ok := ossCode(err)
	return ok && status == http.StatusForbidden &&
		(code == "SecurityTokenExpired" || code == "InvalidAccessKeyId" || code == "InvalidSecurityToken")
}

// retryable reports whether an OSS call may succeed if repeated: network
// errors, timeouts and 5xx, but not 4xx.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errStreamAborted) {
		return false
	}
	_, status, ok := ossCode(err)
	if ok {
		return status >= 500 || status == http.StatusTooManyRequests || status == 0
	}
	return !strings.Contains(err.Error(), "CRCCheckError") // network error, reset, timeout
}

func noSuchUpload(err error) bool {
	code, _, ok := ossCode(err)
	return ok && code == "NoSuchUpload"
}
