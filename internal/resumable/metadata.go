package resumable

import (
	"mime"
	"net/http"
	"strings"

	"github.com/tus/tusd/v2/pkg/handler"
)

// DefaultFilename names an upload whose creation request names no file.
const DefaultFilename = "upload.mp4"

// extByType gives a default file name's extension for the media types
// phones send, so a photo without a name still becomes an image.
var extByType = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
	"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/x-matroska": ".mkv",
	"audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a", "audio/wav": ".wav",
}

// Metadata returns the tus metadata of a draft creation, which has no
// metadata header of its own. h is the request's header and derived what
// tusd took from it (filename from Content-Disposition, filetype from
// Content-Type). In order of precedence:
//
//   - the keys of an Upload-Metadata header in tus encoding, which an app
//     may set as it would for tus;
//   - filename from Content-Disposition (inline or attachment, filename or
//     filename*), filetype from Content-Type unless it is
//     application/partial-upload or application/octet-stream;
//   - defaultName (DefaultFilename when empty) as filename, its extension
//     replaced by the one Content-Type implies (image/jpeg: .jpg) when
//     known; the title then defaults to its base name as for tus.
func Metadata(h http.Header, derived handler.MetaData, defaultName string) handler.MetaData {
	meta := handler.MetaData{}
	for k, v := range handler.ParseMetadataHeader(h.Get("Upload-Metadata")) {
		meta[k] = v
	}
	if meta["filename"] == "" && meta["name"] == "" {
		if f := derived["filename"]; f != "" {
			meta["filename"] = f
		} else if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && params["filename"] != "" {
			meta["filename"] = params["filename"]
		}
	}
	ctype := derived["filetype"]
	if ctype == "" {
		ctype, _, _ = mime.ParseMediaType(h.Get("Content-Type"))
	}
	ctype = strings.ToLower(ctype)
	if ctype == PartialUpload || ctype == "application/octet-stream" {
		ctype = ""
	}
	if ctype != "" && meta["filetype"] == "" && meta["type"] == "" {
		meta["filetype"] = ctype
	}
	if meta["filename"] == "" && meta["name"] == "" {
		name := defaultName
		if name == "" {
			name = DefaultFilename
		}
		if ext, ok := extByType[ctype]; ok {
			if i := strings.LastIndexByte(name, '.'); i > 0 {
				name = name[:i]
			}
			name += ext
		}
		meta["filename"] = name
	}
	return meta
}
