package tusstore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

// Extensions VOD accepts, per media type [vod-oss-wire §4]; lower case.
var (
	videoExts = []string{"3gp", "aac", "ac3", "acm", "amr", "ape", "asf", "avi", "caf", "dat", "dv", "f4v",
		"flac", "flv", "gif", "m2t", "m3u8", "m4a", "m4v", "mj2", "mjpeg", "mkv", "mov", "mp3", "mp4",
		"mpe", "mpeg", "mpg", "mts", "ogg", "qt", "ra", "rm", "rmvb", "swf", "ts", "vob", "wav",
		"webm", "wma", "wmv"}
	imageExts    = []string{"gif", "jpeg", "jpg", "png"}
	attachedExts = map[string][]string{
		"watermark": {"apng", "gif", "mov", "png"},
		"subtitle":  {"ass", "srt", "stl", "ttml", "vtt"},
		"material":  {"apk", "gif", "jpg", "mat", "mp4", "png", "zip"},
	}
)

// Metadata limits enforced before VOD is called, matching VOD's own.
const (
	maxTitleBytes       = 128
	maxDescriptionBytes = 1024
	maxTags             = 16
	maxTagBytes         = 32
	maxUserDataBytes    = 1024
	maxFileNameBytes    = 255
	maxIDBytes          = 64
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ErrInvalidMetadata is the tus error for metadata VOD would reject; its
// message is replaced by the reason.
var ErrInvalidMetadata = handler.NewError("ERR_INVALID_METADATA", "invalid upload metadata", http.StatusBadRequest)

func invalidMetadata(format string, args ...any) error {
	return handler.NewError(ErrInvalidMetadata.ErrorCode, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// CreateRequest maps tus Upload-Metadata onto a VOD create request, filling
// what the metadata leaves out from d. size is the declared length (0 when
// deferred). It returns an ErrInvalidMetadata-coded error naming the first
// problem found. See the README's metadata table.
func CreateRequest(meta handler.MetaData, d Defaults, size int64) (vodbridge.CreateRequest, error) {
	var req vodbridge.CreateRequest
	get := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := meta[k]; ok && v != "" {
				return v
			}
		}
		return ""
	}
	name := get("filename", "name")
	if name == "" {
		return req, invalidMetadata("metadata filename is required (keys filename or name)")
	}
	if err := checkFileName(name); err != nil {
		return req, err
	}
	req.FileName = name
	req.FileSize = size
	ext := strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")

	t, err := mediaType(get("mediaType", "type"), get("filetype"), ext)
	if err != nil {
		return req, err
	}
	req.Type = t
	switch t {
	case vodbridge.MediaVideo:
		if !contains(videoExts, ext) {
			return req, badExtension(ext, "video", videoExts)
		}
	case vodbridge.MediaImage:
		if !contains(imageExts, ext) {
			return req, badExtension(ext, "image", imageExts)
		}
		req.ImageExt = ext
		req.ImageType = get("imageType")
		if req.ImageType == "" {
			req.ImageType = "default"
		}
		if req.ImageType != "default" && req.ImageType != "cover" {
			return req, invalidMetadata("metadata imageType %q must be default or cover", req.ImageType)
		}
	case vodbridge.MediaAttached:
		bt := get("businessType")
		exts, ok := attachedExts[bt]
		if !ok {
			return req, invalidMetadata("metadata businessType %q must be one of watermark, subtitle, material for type attached", bt)
		}
		if !contains(exts, ext) {
			return req, badExtension(ext, bt, exts)
		}
		req.BusinessType, req.MediaExt = bt, ext
	}

	req.Title = get("title")
	if req.Title == "" {
		req.Title = truncateUTF8(strings.TrimSuffix(name, path.Ext(name)), maxTitleBytes)
		if req.Title == "" {
			req.Title = name
		}
	}
	if err := checkText("title", req.Title, maxTitleBytes, false); err != nil {
		return req, err
	}
	req.Description = get("description")
	if err := checkText("description", req.Description, maxDescriptionBytes, true); err != nil {
		return req, err
	}
	if req.Tags, err = parseTags(firstNonEmpty(get("tags"), d.Tags)); err != nil {
		return req, err
	}
	if v := get("cateId"); v != "" {
		if req.CateID, err = strconv.ParseInt(v, 10, 64); err != nil || req.CateID <= 0 {
			return req, invalidMetadata("metadata cateId %q must be a positive integer", v)
		}
	} else {
		req.CateID = d.CateID
	}
	if v := get("coverURL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return req, invalidMetadata("metadata coverURL %q must be an http or https URL", v)
		}
		if err := checkPublicURL(u); err != nil {
			return req, invalidMetadata("metadata coverURL: %v", err)
		}
		req.CoverURL = v
	}
	for _, f := range []struct {
		key, def string
		dst      *string
	}{
		{"templateGroupId", d.TemplateGroupID, &req.TemplateGroupID},
		{"workflowId", d.WorkflowID, &req.WorkflowID},
		{"storageLocation", d.StorageLocation, &req.StorageLocation},
		{"appId", d.AppID, &req.AppID},
	} {
		v := firstNonEmpty(get(f.key), f.def)
		if v != "" && (len(v) > maxIDBytes+64 || !idPattern.MatchString(v)) {
			return req, invalidMetadata("metadata %s %q must be letters, digits, '-', '_' or '.'", f.key, v)
		}
		*f.dst = v
	}
	req.UserData = firstNonEmpty(get("userData"), d.UserData)
	if req.UserData != "" {
		if len(req.UserData) > maxUserDataBytes {
			return req, invalidMetadata("metadata userData is %d bytes, over %d", len(req.UserData), maxUserDataBytes)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(req.UserData), &obj); err != nil {
			return req, invalidMetadata("metadata userData must be a JSON object: %v", err)
		}
	}
	return req, nil
}

// mediaType picks the VOD media type: from the "type" metadata when it
// names one (video|image|attached); else from a MIME type, as Uppy sends
// in "type" and tus-js-client examples in "filetype"; else from the file
// extension (png, jpg and jpeg are images, everything else video).
func mediaType(v, filetype, ext string) (vodbridge.MediaType, error) {
	switch v {
	case "video":
		return vodbridge.MediaVideo, nil
	case "image":
		return vodbridge.MediaImage, nil
	case "attached":
		return vodbridge.MediaAttached, nil
	}
	mime := filetype
	if strings.Contains(v, "/") {
		mime = v
	} else if v != "" {
		return "", invalidMetadata("metadata type %q must be video, image or attached", v)
	}
	switch {
	case ext == "gif": // both a video and an image format: video unless asked
		return vodbridge.MediaVideo, nil
	case strings.HasPrefix(mime, "image/"):
		return vodbridge.MediaImage, nil
	case mime == "" && contains(imageExts, ext):
		return vodbridge.MediaImage, nil
	}
	return vodbridge.MediaVideo, nil
}

func checkFileName(name string) error {
	switch {
	case len(name) > maxFileNameBytes:
		return invalidMetadata("metadata filename is %d bytes, over %d", len(name), maxFileNameBytes)
	case !utf8.ValidString(name):
		return invalidMetadata("metadata filename is not valid UTF-8")
	case strings.ContainsAny(name, "/\\"):
		return invalidMetadata("metadata filename %q must not contain a path", name)
	case name == "." || name == "..":
		return invalidMetadata("metadata filename %q is not a file name", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || deceptive(r) {
			return invalidMetadata("metadata filename must not contain control characters, bidirectional controls or line separators")
		}
	}
	return nil
}

// deceptive reports whether r changes how text around it is displayed or
// split into lines without being visible itself: the bidirectional
// embedding, override and isolate controls (U+202E makes "exe.mp4" read
// as "4pm.exe") and the Unicode line and paragraph separators. They are
// refused in file names and titles, as control characters are.
func deceptive(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F ||
		r == 0x061C || r == 0x2028 || r == 0x2029
}

// checkText enforces VOD's rules for a text field: at most max bytes of
// UTF-8, nothing outside the BMP (VOD refuses emoji), and no control
// characters (VOD answers IllegalCharacters). multiline allows LF, CR LF
// and TAB, which only the description may hold; one-line fields (title,
// tags) also refuse the characters deceptive reports.
func checkText(key, v string, max int, multiline bool) error {
	if len(v) > max {
		return invalidMetadata("metadata %s is %d bytes, over %d", key, len(v), max)
	}
	if !utf8.ValidString(v) {
		return invalidMetadata("metadata %s is not valid UTF-8", key)
	}
	for _, r := range v {
		if r > 0xFFFF {
			return invalidMetadata("metadata %s must not contain emoji or other characters outside the BMP", key)
		}
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return invalidMetadata("metadata %s must not contain control characters (such as line feed or tab)", key)
		}
		if !multiline && deceptive(r) {
			return invalidMetadata("metadata %s must not contain bidirectional or line-separator characters", key)
		}
	}
	return nil
}

func parseTags(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var tags []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := checkText("tag", t, maxTagBytes, false); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	if len(tags) > maxTags {
		return nil, invalidMetadata("metadata tags has %d tags, over %d", len(tags), maxTags)
	}
	return tags, nil
}

func badExtension(ext, kind string, accepted []string) error {
	s := append([]string(nil), accepted...)
	sort.Strings(s)
	if ext == "" {
		return invalidMetadata("metadata filename has no extension; accepted for %s: %s", kind, strings.Join(s, ", "))
	}
	return invalidMetadata("unsupported file extension %q for %s; accepted: %s", ext, kind, strings.Join(s, ", "))
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
