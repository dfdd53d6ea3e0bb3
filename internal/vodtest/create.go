package vodtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vodgate/vodgate/internal/osstest"
)

// Limits from the CreateUploadVideo documentation.
const (
	maxTitleBytes       = 128
	maxDescriptionBytes = 1024
	maxTags             = 16
	maxTagBytes         = 32
	defaultAppID        = "app-1000000"
)

// uploadAddress and uploadAuth are the JSON documents that VOD base64-encodes into UploadAddress
// and UploadAuth.
type uploadAddress struct {
	Endpoint string
	Bucket   string
	FileName string
	// ObjectPrefix ("sv/<dir>/") is where the official uploaders put the .ts slices of an m3u8
	// (undocumented; read by the Python uploader). Videos only.
	ObjectPrefix string `json:",omitempty"`
}

type uploadAuth struct {
	SecurityToken   string
	AccessKeyId     string //nolint:revive // wire name
	ExpireUTCTime   string
	AccessKeySecret string
	Expiration      string
	Region          string
}

// referencePattern is what VOD accepts as a ReferenceId, unique per account.
var referencePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)

func (s *Server) createUploadVideo(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	if p["Title"] == "" {
		return nil, errMissing("Title")
	}
	if p["FileName"] == "" {
		return nil, errMissing("FileName")
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(p["FileName"]), "."))
	if !isVideoExt(ext) {
		return nil, newError(http.StatusBadRequest, codeBadExtension, "The file extension %q is not supported.", ext)
	}
	if aerr := validateFileSize(p["FileSize"]); aerr != nil {
		return nil, aerr
	}
	storage, bucket, aerr := s.validateCommon(p)
	if aerr != nil {
		return nil, aerr
	}
	if tg := p["TemplateGroupId"]; tg != "" && p["WorkflowId"] == "" && !s.templates[tg] {
		return nil, newError(http.StatusNotFound, codeTemplateNotFound, "The specified template group %q does not exist.", tg)
	}
	if ref, ok := p["ReferenceId"]; ok {
		if !referencePattern.MatchString(ref) {
			return nil, errInvalid("ReferenceId")
		}
		if _, aerr := s.lookupVideo(map[string]string{"ReferenceId": ref}); aerr == nil {
			return nil, newError(http.StatusBadRequest, "InvalidParameter.ReferenceId", "The ReferenceId %q already exists.", ref)
		}
	}
	rec := &mediaRec{Media: Media{
		ID: randHex(16), Type: MediaVideo, Title: p["Title"], FileName: p["FileName"], Status: StatusUploading,
		Bucket: bucket, Key: "sv/" + randAlnum(8) + "-" + randHex(4) + "/" + randAlnum(8) + "-" + randHex(4) + "." + ext,
		Params: p, Created: req.now,
	}, storage: storage, modified: req.now}
	s.addMedia(rec)
	addr, auth := s.issue(rec, req.now)
	return map[string]any{"VideoId": rec.ID, "UploadAddress": addr, "UploadAuth": auth}, nil
}

func (s *Server) refreshUploadVideo(_ context.Context, req *request) (map[string]any, *apiError) {
	rec, aerr := s.lookupVideo(req.params)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	old := append([]string(nil), rec.grants...)
	s.mu.Unlock()
	addr, auth := s.issue(rec, req.now)
	if s.cfg.RevokeOnRefresh {
		for _, ak := range old {
			s.cfg.OSS.RevokeGrant(ak)
		}
	}
	return map[string]any{"VideoId": rec.ID, "UploadAddress": addr, "UploadAuth": auth}, nil
}

func (s *Server) createUploadImage(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	imageType := p["ImageType"]
	switch imageType {
	case "":
		return nil, errMissing("ImageType")
	case "default", "cover":
	default:
		return nil, errInvalid("ImageType")
	}
	ext := strings.ToLower(p["ImageExt"])
	switch ext {
	case "":
		ext = "png"
	case "png", "jpg", "jpeg", "gif":
	default:
		return nil, errInvalid("ImageExt")
	}
	storage, bucket, aerr := s.validateCommon(p)
	if aerr != nil {
		return nil, aerr
	}
	id := randHex(16)
	rec := &mediaRec{Media: Media{
		ID: id, Type: MediaImage, Title: p["Title"], FileName: p["OriginalFileName"], Status: StatusUploading,
		Bucket: bucket, Key: "image/" + imageType + "/" + strings.ToUpper(randHex(16)) + "-6-2." + ext,
		Params: p, Created: req.now,
	}, storage: storage, modified: req.now}
	s.addMedia(rec)
	addr, auth := s.issue(rec, req.now)
	u := s.objectURL(rec)
	return map[string]any{"ImageId": id, "ImageURL": u, "FileURL": u, "UploadAddress": addr, "UploadAuth": auth}, nil
}

func (s *Server) createUploadAttachedMedia(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	business := p["BusinessType"]
	if business == "" {
		return nil, errMissing("BusinessType")
	}
	allowed, ok := attachedExts(business)
	if !ok {
		return nil, errInvalid("BusinessType")
	}
	ext := strings.ToLower(p["MediaExt"])
	if ext == "" {
		ext = strings.ToLower(strings.TrimPrefix(path.Ext(p["FileName"]), "."))
	}
	if !strings.Contains(" "+allowed+" ", " "+ext+" ") || ext == "" {
		return nil, errInvalid("MediaExt")
	}
	if aerr := validateFileSize(p["FileSize"]); aerr != nil {
		return nil, aerr
	}
	if ids := p["CateIds"]; ids != "" && len(strings.Split(ids, ",")) > 5 {
		return nil, errInvalid("CateIds")
	}
	storage, bucket, aerr := s.validateCommon(p)
	if aerr != nil {
		return nil, aerr
	}
	id := randHex(16)
	rec := &mediaRec{Media: Media{
		ID: id, Type: MediaAttached, Title: p["Title"], FileName: p["FileName"], Status: StatusUploading,
		Bucket: bucket, Key: business + "/" + randHex(16) + "." + ext,
		Params: p, Created: req.now,
	}, storage: storage, modified: req.now}
	s.addMedia(rec)
	addr, auth := s.issue(rec, req.now)
	u := s.objectURL(rec)
	return map[string]any{"MediaId": id, "MediaURL": u, "FileURL": u, "UploadAddress": addr, "UploadAuth": auth}, nil
}

// validateCommon checks the parameters shared by the Create* actions and resolves StorageLocation.
func (s *Server) validateCommon(p map[string]string) (storage, bucket string, aerr *apiError) {
	if t := p["Title"]; t != "" {
		if len(t) > maxTitleBytes {
			return "", "", newError(http.StatusBadRequest, codeLengthExceeded, "The Title exceeds %d bytes.", maxTitleBytes)
		}
		if !printable(t) {
			return "", "", newError(http.StatusBadRequest, codeIllegalChars, "The Title contains illegal characters.")
		}
	}
	if d := p["Description"]; len(d) > maxDescriptionBytes {
		return "", "", newError(http.StatusBadRequest, codeLengthExceeded, "The Description exceeds %d bytes.", maxDescriptionBytes)
	}
	if tags := p["Tags"]; tags != "" {
		list := strings.Split(tags, ",")
		if len(list) > maxTags {
			return "", "", newError(http.StatusBadRequest, codeTagsExceeded, "The number of tags exceeds %d.", maxTags)
		}
		for _, tag := range list {
			if len(tag) > maxTagBytes {
				return "", "", newError(http.StatusBadRequest, codeLengthExceeded, "A tag exceeds %d bytes.", maxTagBytes)
			}
		}
	}
	if c := p["CateId"]; c != "" {
		if _, err := strconv.ParseInt(c, 10, 64); err != nil {
			return "", "", errInvalid("CateId")
		}
	}
	if u := p["UserData"]; u != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(u), &obj); err != nil {
			return "", "", errInvalid("UserData")
		}
	}
	storage = p["StorageLocation"]
	if storage == "" {
		storage = s.defaultStorage
	}
	bucket, ok := s.storages[storage]
	if !ok {
		return "", "", newError(http.StatusNotFound, codeStorageNotFound, "The specified storage location %q does not exist.", storage)
	}
	return storage, bucket, nil
}

// issue mints a credential for rec's object, registers it with the OSS simulator and returns the
// base64 UploadAddress and UploadAuth.
func (s *Server) issue(rec *mediaRec, now time.Time) (addr, auth string) {
	ak := "STS." + randAlnum(25)
	secret := randAlnum(44)
	tok := make([]byte, 240)
	_, _ = rand.Read(tok)
	token := "CAIS" + base64.StdEncoding.EncodeToString(tok)
	expires := now.Add(s.cfg.CredentialTTL)
	s.cfg.OSS.Grant(osstest.Grant{
		AccessKeyID: ak, AccessKeySecret: secret, SecurityToken: token,
		Bucket: rec.Bucket, Key: rec.Key, Expires: expires,
	})
	s.mu.Lock()
	rec.grants = append(rec.grants, ak)
	s.mu.Unlock()
	address := uploadAddress{Endpoint: s.cfg.OSS.URL(), Bucket: rec.Bucket, FileName: rec.Key}
	if rec.Type == MediaVideo {
		address.ObjectPrefix = path.Dir(rec.Key) + "/"
	}
	a, _ := json.Marshal(address)
	c, _ := json.Marshal(uploadAuth{
		SecurityToken: token, AccessKeyId: ak, AccessKeySecret: secret,
		ExpireUTCTime: expires.UTC().Format(acsDateLayout),
		Expiration:    strconv.Itoa(int(s.cfg.CredentialTTL / time.Second)),
		Region:        s.cfg.Region,
	})
	return base64.StdEncoding.EncodeToString(a), base64.StdEncoding.EncodeToString(c)
}

// objectURL is the path-style URL of rec's object on the OSS simulator (ImageURL, MediaURL, FileURL).
func (s *Server) objectURL(rec *mediaRec) string {
	return s.cfg.OSS.URL() + "/" + rec.Bucket + "/" + rec.Key
}

func validateFileSize(v string) *apiError {
	if v == "" {
		return nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
		return errInvalid("FileSize")
	}
	return nil
}

// printable reports whether t is valid UTF-8 without control characters or characters outside
// the Basic Multilingual Plane (VOD rejects emoji in titles).
func printable(t string) bool {
	if !utf8.ValidString(t) {
		return false
	}
	for _, r := range t {
		if r > 0xFFFF || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// isVideoExt reports whether ext (lower case) is a supported audio or video extension.
func isVideoExt(ext string) bool {
	switch ext {
	case "mp4", "ts", "3gp", "mpg", "mpeg", "mpe", "dat", "vob", "asf", "avi", "wmv", "flv", "f4v",
		"rm", "rmvb", "mov", "mkv", "m3u8", "dv", "gif", "m2t", "m4v", "mj2", "mjpeg", "mts", "ogg",
		"qt", "swf", "webm",
		"mp3", "wma", "wav", "aac", "ra", "m4a", "flac", "ape", "ac3", "amr", "caf", "acm":
		return true
	}
	return false
}

// attachedExts returns the space-separated extensions allowed for an attached-media business type.
func attachedExts(business string) (string, bool) {
	switch business {
	case "watermark":
		return "png gif apng mov", true
	case "subtitle":
		return "srt ass stl ttml vtt", true
	case "material":
		return "jpg gif png mp4 mat zip apk", true
	}
	return "", false
}
