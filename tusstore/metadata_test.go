package tusstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

func TestCreateRequest(t *testing.T) {
	long := strings.Repeat("a", 129)
	for _, tc := range []struct {
		name    string
		meta    handler.MetaData
		def     Defaults
		wantErr string // substring of the 400 message; "" means success
		check   func(t *testing.T, r vodbridge.CreateRequest)
	}{
		{name: "video with title from filename", meta: handler.MetaData{"filename": "Holiday Clip.MP4"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaVideo || r.Title != "Holiday Clip" || r.FileName != "Holiday Clip.MP4" || r.FileSize != 42 {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "name key as tus-js-client and Uppy send it", meta: handler.MetaData{"name": "a.mov", "type": "video/quicktime"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaVideo || r.FileName != "a.mov" {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "image from MIME type", meta: handler.MetaData{"filename": "p.PNG", "type": "image/png"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaImage || r.ImageExt != "png" || r.ImageType != "default" {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "image from tus-js-client filetype", meta: handler.MetaData{"filename": "p.jpg", "filetype": "image/jpeg"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaImage || r.ImageExt != "jpg" {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "image from extension alone", meta: handler.MetaData{"filename": "p.jpeg"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaImage {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "gif is video unless asked", meta: handler.MetaData{"filename": "a.gif", "filetype": "image/gif"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaVideo {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "audio MIME is video", meta: handler.MetaData{"filename": "a.mp3", "filetype": "audio/mpeg"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaVideo {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "attached subtitle", meta: handler.MetaData{"filename": "s.vtt", "type": "attached", "businessType": "subtitle"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Type != vodbridge.MediaAttached || r.BusinessType != "subtitle" || r.MediaExt != "vtt" {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "all parameters", meta: handler.MetaData{"filename": "x.mp4", "title": "T", "description": "D",
			"tags": "a, b", "cateId": "7", "coverURL": "https://c.example.com/x.jpg", "templateGroupId": "tg1",
			"workflowId": "wf1", "storageLocation": "outin-abc.oss-cn-shanghai.aliyuncs.com", "appId": "app-1",
			"userData": `{"Extend":{"k":"v"}}`},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.Title != "T" || r.Description != "D" || strings.Join(r.Tags, "|") != "a|b" || r.CateID != 7 ||
					r.CoverURL != "https://c.example.com/x.jpg" || r.TemplateGroupID != "tg1" || r.WorkflowID != "wf1" ||
					r.StorageLocation != "outin-abc.oss-cn-shanghai.aliyuncs.com" || r.AppID != "app-1" || r.UserData == "" {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "defaults fill gaps", meta: handler.MetaData{"filename": "x.mp4", "templateGroupId": "mine"},
			def: Defaults{TemplateGroupID: "dflt", WorkflowID: "wf", CateID: 3, Tags: "t1"},
			check: func(t *testing.T, r vodbridge.CreateRequest) {
				if r.TemplateGroupID != "mine" || r.WorkflowID != "wf" || r.CateID != 3 || len(r.Tags) != 1 {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "missing filename", meta: handler.MetaData{"title": "x"}, wantErr: "filename is required"},
		{name: "unsupported extension lists accepted", meta: handler.MetaData{"filename": "a.exe"}, wantErr: "accepted: 3gp, aac"},
		{name: "no extension", meta: handler.MetaData{"filename": "noext"}, wantErr: "has no extension"},
		{name: "image with video extension", meta: handler.MetaData{"filename": "a.mp4", "type": "image"}, wantErr: "for image"},
		{name: "image MIME with video extension", meta: handler.MetaData{"filename": "a.mp4", "type": "image/png"}, wantErr: "for image"},
		{name: "title over 128 bytes", meta: handler.MetaData{"filename": "a.mp4", "title": long}, wantErr: "title is 129 bytes"},
		{name: "emoji title", meta: handler.MetaData{"filename": "a.mp4", "title": "hi \U0001F600"}, wantErr: "emoji"},
		{name: "LF in title", meta: handler.MetaData{"filename": "a.mp4", "title": "a\nb"}, wantErr: "title must not contain control characters"},
		{name: "TAB in title", meta: handler.MetaData{"filename": "a.mp4", "title": "a\tb"}, wantErr: "title must not contain control characters"},
		{name: "LF in tag", meta: handler.MetaData{"filename": "a.mp4", "tags": "a\nb"}, wantErr: "tag must not contain control characters"},
		{name: "RLO in title", meta: handler.MetaData{"filename": "a.mp4", "title": "a\u202eb"}, wantErr: "title must not contain bidirectional"},
		{name: "line separator in title", meta: handler.MetaData{"filename": "a.mp4", "title": "a\u2028b"}, wantErr: "title must not contain bidirectional"},
		{name: "RLO in filename", meta: handler.MetaData{"filename": "a\u202e4pm.exe.mp4"}, wantErr: "filename must not contain control characters, bidirectional"},
		{name: "paragraph separator in filename", meta: handler.MetaData{"filename": "a\u2029.mp4"}, wantErr: "filename must not contain control characters, bidirectional"},
		{name: "NUL in description", meta: handler.MetaData{"filename": "a.mp4", "description": "a\x00b"}, wantErr: "description must not contain control characters"},
		{name: "17 tags", meta: handler.MetaData{"filename": "a.mp4", "tags": strings.Repeat("t,", 17)}, wantErr: "17 tags"},
		{name: "tag over 32 bytes", meta: handler.MetaData{"filename": "a.mp4", "tags": strings.Repeat("t", 33)}, wantErr: "tag is 33 bytes"},
		{name: "bad userData", meta: handler.MetaData{"filename": "a.mp4", "userData": "{nope"}, wantErr: "userData must be a JSON object"},
		{name: "bad cateId", meta: handler.MetaData{"filename": "a.mp4", "cateId": "x"}, wantErr: "cateId"},
		{name: "bad coverURL", meta: handler.MetaData{"filename": "a.mp4", "coverURL": "javascript:x"}, wantErr: "coverURL"},
		{name: "coverURL at the metadata address", meta: handler.MetaData{"filename": "a.mp4", "coverURL": "http://169.254.169.254/x.jpg"}, wantErr: "coverURL: must not point at a loopback"},
		{name: "coverURL with credentials", meta: handler.MetaData{"filename": "a.mp4", "coverURL": "https://u:p@img.example.com/x.jpg"}, wantErr: "coverURL: must not carry a user name"},
		{name: "bad type", meta: handler.MetaData{"filename": "a.mp4", "type": "movie"}, wantErr: "type \"movie\""},
		{name: "attached without business type", meta: handler.MetaData{"filename": "a.png", "type": "attached"}, wantErr: "businessType"},
		{name: "path traversal", meta: handler.MetaData{"filename": "../../etc/a.mp4"}, wantErr: "must not contain a path"},
		{name: "CRLF in filename", meta: handler.MetaData{"filename": "a\r\nb.mp4"}, wantErr: "control characters"},
		{name: "bad template group id", meta: handler.MetaData{"filename": "a.mp4", "templateGroupId": "a b"}, wantErr: "templateGroupId"},
		{name: "description over 1024", meta: handler.MetaData{"filename": "a.mp4", "description": strings.Repeat("d", 1025)}, wantErr: "description is 1025"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CreateRequest(tc.meta, tc.def, 42)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tc.check(t, r)
				return
			}
			var he handler.Error
			if !errors.As(err, &he) || he.HTTPResponse.StatusCode != 400 || !strings.Contains(he.Message, tc.wantErr) {
				t.Fatalf("error = %v, want 400 containing %q", err, tc.wantErr)
			}
		})
	}
}
