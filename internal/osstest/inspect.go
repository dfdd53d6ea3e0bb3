package osstest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Object describes a stored object. SHA256 is lower-case hex of the whole
// object; CRC64 is its CRC-64/ECMA (what x-oss-hash-crc64ecma carries; the
// JSON form is a decimal string so JavaScript keeps every bit). Parts is the
// number of parts of a multipart object, 0 for PutObject.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	CRC64  uint64 `json:"crc64,string"`
	Parts  int    `json:"parts"`
}

// Upload describes an open multipart upload: Parts and Bytes count the parts
// uploaded so far (the latest upload of each part number).
type Upload struct {
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	UploadID  string    `json:"uploadId"`
	Parts     int       `json:"parts"`
	Bytes     int64     `json:"bytes"`
	Initiated time.Time `json:"initiated"`
}

// OnComplete registers fn to run after every successful Complete or PutObject,
// synchronously, before the client gets its response and with no lock held
// (fn may call Server methods).
func (s *Server) OnComplete(fn func(bucket, key string, size int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onComplete = append(s.onComplete, fn)
}

// AbortUploads aborts every open multipart upload of bucket/key (as VOD's
// DeleteMultipartUpload does) and returns how many it aborted.
func (s *Server) AbortUploads(bucket, key string) int {
	var dead []*upload
	s.mu.Lock()
	for id, u := range s.uploads {
		if u.bucket == bucket && u.key == key {
			dead = append(dead, u)
			delete(s.uploads, id)
		}
	}
	s.mu.Unlock()
	for _, u := range dead {
		for _, p := range u.parts {
			p.blob.remove()
		}
	}
	return len(dead)
}

// Objects returns every stored object, sorted by bucket then key.
func (s *Server) Objects() []Object {
	s.mu.Lock()
	out := make([]Object, 0, len(s.objects))
	for _, o := range s.objects {
		out = append(out, o.info)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Object) int {
		if c := strings.Compare(a.Bucket, b.Bucket); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// Object reports the stored object at bucket/key.
func (s *Server) Object(bucket, key string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[objectKey{bucket, key}]
	if !ok {
		return Object{}, false
	}
	return o.info, true
}

// ReadObject returns a copy of the object's bytes. A missing object gives an
// error wrapping [ErrNoSuchKey].
func (s *Server) ReadObject(bucket, key string) ([]byte, error) {
	s.mu.Lock()
	o := s.objects[objectKey{bucket, key}]
	s.mu.Unlock()
	if o == nil {
		return nil, fmt.Errorf("osstest: read %s/%s: %w", bucket, key, ErrNoSuchKey)
	}
	var buf bytes.Buffer
	buf.Grow(int(o.info.Size))
	if _, err := copySegments(&buf, o.segs, 0, o.info.Size); err != nil {
		return nil, fmt.Errorf("osstest: read %s/%s: %w", bucket, key, err)
	}
	return buf.Bytes(), nil
}

// Uploads returns the open multipart uploads, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	out := make([]Upload, 0, len(s.uploads))
	for _, u := range s.uploads {
		out = append(out, u.info())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Upload) int {
		if c := a.Initiated.Compare(b.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.UploadID, b.UploadID)
	})
	return out
}

// StoreObject writes data as the object bucket/key, the way a service
// behind the API writes into OSS (the VOD simulator's URL pulls), and runs
// the OnComplete hooks as a PutObject does.
func (s *Server) StoreObject(ctx context.Context, bucket, key string, data []byte) (Object, error) {
	rc, err := s.receiveBody(ctx, bytes.NewReader(data), int64(len(data)), true, 0)
	if err != nil {
		return Object{}, fmt.Errorf("osstest: store %s/%s: %w", bucket, key, err)
	}
	obj := &object{modified: s.now(), etag: quoteETag(rc.md5[:]), segs: []*blob{rc.blob}}
	obj.info = Object{Bucket: bucket, Key: key, Size: rc.blob.size, SHA256: rc.sha256, CRC64: rc.crc}
	s.storeObject(obj)
	s.notifyComplete(obj.info)
	return obj.info, nil
}
