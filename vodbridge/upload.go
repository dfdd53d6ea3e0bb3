package vodbridge

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alibabacloud-go/tea/dara"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

// CreateRequest describes a media to create. Fields that the chosen action
// does not take are ignored (CoverURL, TemplateGroupID and WorkflowID are
// video only). Empty strings and zero numbers are not sent.
type CreateRequest struct {
	// Type selects CreateUploadVideo, CreateUploadImage or
	// CreateUploadAttachedMedia. Default: MediaVideo.
	Type MediaType
	// Title is required for video (≤128 bytes); optional otherwise.
	Title string
	// FileName is the source file name. Required for video, where its
	// extension decides whether VOD accepts the upload. For image it is sent
	// as OriginalFileName and supplies ImageExt; for attached media it is
	// sent as FileName and supplies MediaExt.
	FileName string
	// FileSize in bytes; sent when > 0 (as a string for attached media).
	FileSize    int64
	Description string
	CoverURL    string // video only
	// CateID is the category (sent as CateIds for attached media); sent when > 0.
	CateID int64
	// Tags are trimmed, empty ones dropped, and joined with commas. VOD allows
	// at most 16 tags of at most 32 bytes each and rejects commas inside one.
	Tags            []string
	TemplateGroupID string // video only
	WorkflowID      string // video only; wins over TemplateGroupID in VOD
	StorageLocation string
	AppID           string
	UserData        string // JSON string, passed through
	// ImageType is "default" or "cover" (image only). Default: "default".
	ImageType string
	// ImageExt is png, jpg, jpeg or gif (image only). Default: FileName's
	// extension, else VOD's default (png).
	ImageExt string
	// BusinessType is watermark, subtitle or material (attached media only,
	// required).
	BusinessType string
	// MediaExt (attached media only). Default: FileName's extension.
	MediaExt string
	// ReferenceID is a custom ID, unique per account (video only; 6–64
	// letters, digits, '-' and '_'): a video created with it can be found
	// again with [Client.RefreshUploadByReference].
	ReferenceID string
}

// CreateUpload creates a media of req.Type in VOD and returns where to upload
// its bytes and the credential to do it with.
//
// Retries: throttling and 5xx answers are retried up to MaxAttempts. A
// transport failure is retried only when the request provably never left
// this host (DNS or dial failure); after a timeout or a connection lost
// mid-exchange the error is returned, because VOD may have created the
// media and a retry would create a duplicate. Such an orphan stays in
// "Uploading" and costs nothing, but the caller should not loop either.
// Errors: ErrInvalidArgument (bad request, checked locally or by VOD),
// ErrNotFound (template group, storage location), ErrThrottled, ErrAuth,
// ErrServer, ErrBadResponse, or a ctx/transport error.
func (c *Client) CreateUpload(ctx context.Context, req CreateRequest) (Target, error) {
	if req.Type == "" {
		req.Type = MediaVideo
	}
	for _, tag := range req.Tags {
		if strings.Contains(tag, ",") {
			return Target{}, fmt.Errorf("vodbridge: create upload: tag %q contains a comma: %w", tag, ErrInvalidArgument)
		}
	}
	var (
		issued                   time.Time
		id, addr, auth, mediaURL string
		op                       string
		attempt                  attemptFunc
	)
	switch req.Type {
	case MediaVideo:
		if req.Title == "" || req.FileName == "" {
			return Target{}, fmt.Errorf("vodbridge: create video: Title and FileName are required: %w", ErrInvalidArgument)
		}
		op = "CreateUploadVideo"
		in := videoRequest(req)
		attempt = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			issued = c.cfg.Clock()
			out, err := sdk.CreateUploadVideoWithContext(ctx, in, rt)
			if err == nil && out != nil && out.Body != nil {
				b := out.Body
				id, addr, auth = dara.StringValue(b.VideoId), dara.StringValue(b.UploadAddress), dara.StringValue(b.UploadAuth)
			}
			return err
		}
	case MediaImage:
		op = "CreateUploadImage"
		in := imageRequest(req)
		attempt = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			issued = c.cfg.Clock()
			out, err := sdk.CreateUploadImageWithContext(ctx, in, rt)
			if err == nil && out != nil && out.Body != nil {
				b := out.Body
				id, addr, auth = dara.StringValue(b.ImageId), dara.StringValue(b.UploadAddress), dara.StringValue(b.UploadAuth)
				mediaURL = dara.StringValue(b.ImageURL)
			}
			return err
		}
	case MediaAttached:
		if req.BusinessType == "" {
			return Target{}, fmt.Errorf("vodbridge: create attached media: BusinessType is required: %w", ErrInvalidArgument)
		}
		op = "CreateUploadAttachedMedia"
		in := attachedRequest(req)
		attempt = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			issued = c.cfg.Clock()
			out, err := sdk.CreateUploadAttachedMediaWithContext(ctx, in, rt)
			if err == nil && out != nil && out.Body != nil {
				b := out.Body
				id, addr, auth = dara.StringValue(b.MediaId), dara.StringValue(b.UploadAddress), dara.StringValue(b.UploadAuth)
				mediaURL = dara.StringValue(b.MediaURL)
			}
			return err
		}
	default:
		return Target{}, fmt.Errorf("vodbridge: create upload: unknown media type %q: %w", req.Type, ErrInvalidArgument)
	}
	if err := c.call(ctx, op, false, attempt); err != nil {
		return Target{}, err
	}
	t, err := c.target(op, req.Type, id, addr, auth, issued)
	t.MediaURL = mediaURL
	return t, err
}

// RefreshUpload calls RefreshUploadVideo: a new credential for the same
// video and the same Address (VOD keeps the object key). Only videos can be
// refreshed; for images and attached media call CreateUpload again. The
// previous credential stays valid until it expires.
//
// Retried on throttling, 5xx and transport errors (a repeated refresh just
// issues another credential). Errors: ErrNotFound (InvalidVideo.NotFound),
// ErrInvalidArgument (e.g. InvalidVideo.Damaged), ErrThrottled, ErrAuth,
// ErrServer, ErrBadResponse, or a ctx/transport error.
func (c *Client) RefreshUpload(ctx context.Context, videoID string) (Target, error) {
	if err := checkID("refresh upload", videoID); err != nil {
		return Target{}, err
	}
	return c.refresh(ctx, videoID, &vod.RefreshUploadVideoRequest{VideoId: dara.String(videoID)})
}

// RefreshUploadByReference is RefreshUpload for the video created with
// CreateRequest.ReferenceID ref: it finds a video whose creation's answer
// was lost. Errors as RefreshUpload's (ErrNotFound when no video has ref).
func (c *Client) RefreshUploadByReference(ctx context.Context, ref string) (Target, error) {
	if !validReference(ref) {
		return Target{}, fmt.Errorf("vodbridge: refresh upload: bad reference id %q: %w", ref, ErrInvalidArgument)
	}
	return c.refresh(ctx, "", &vod.RefreshUploadVideoRequest{ReferenceId: dara.String(ref)})
}

// validReference reports whether ref is a valid VOD ReferenceId.
func validReference(ref string) bool {
	if len(ref) < 6 || len(ref) > 64 {
		return false
	}
	for _, r := range ref {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (c *Client) refresh(ctx context.Context, videoID string, in *vod.RefreshUploadVideoRequest) (Target, error) {
	const op = "RefreshUploadVideo"
	var issued time.Time
	var id, addr, auth string
	err := c.call(ctx, op, true, func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
		issued = c.cfg.Clock()
		out, err := sdk.RefreshUploadVideoWithContext(ctx, in, rt)
		if err == nil && out != nil && out.Body != nil {
			b := out.Body
			id, addr, auth = dara.StringValue(b.VideoId), dara.StringValue(b.UploadAddress), dara.StringValue(b.UploadAuth)
		}
		return err
	})
	if err != nil {
		return Target{}, err
	}
	if id == "" {
		id = videoID // older responses may omit VideoId
	}
	return c.target(op, MediaVideo, id, addr, auth, issued)
}

// target decodes a Create*/Refresh answer.
func (c *Client) target(op string, typ MediaType, id, addr, auth string, issued time.Time) (Target, error) {
	if id == "" {
		return Target{}, fmt.Errorf("vodbridge: %s: response lacks the media id: %w", op, ErrBadResponse)
	}
	a, err := decodeAddress(addr)
	if err != nil {
		return Target{}, fmt.Errorf("vodbridge: %s %s: %w", op, id, err)
	}
	cred, err := decodeAuth(auth, issued, c.cfg.CredentialLifetime, a.Endpoint, c.cfg.Region)
	if err != nil {
		return Target{}, fmt.Errorf("vodbridge: %s %s: %w", op, id, err)
	}
	return Target{MediaID: id, Type: typ, Address: a, Credential: cred}, nil
}

func videoRequest(r CreateRequest) *vod.CreateUploadVideoRequest {
	return &vod.CreateUploadVideoRequest{
		Title:           dara.String(r.Title),
		FileName:        dara.String(r.FileName),
		FileSize:        optInt(r.FileSize),
		Description:     optString(r.Description),
		CoverURL:        optString(r.CoverURL),
		CateId:          optInt(r.CateID),
		Tags:            optString(joinTags(r.Tags)),
		TemplateGroupId: optString(r.TemplateGroupID),
		WorkflowId:      optString(r.WorkflowID),
		StorageLocation: optString(r.StorageLocation),
		AppId:           optString(r.AppID),
		UserData:        optString(r.UserData),
		ReferenceId:     optString(r.ReferenceID),
	}
}

func imageRequest(r CreateRequest) *vod.CreateUploadImageRequest {
	imageType := r.ImageType
	if imageType == "" {
		imageType = "default"
	}
	ext := r.ImageExt
	if ext == "" {
		ext = extOf(r.FileName)
	}
	return &vod.CreateUploadImageRequest{
		ImageType:        dara.String(imageType),
		ImageExt:         optString(ext),
		OriginalFileName: optString(r.FileName),
		Title:            optString(r.Title),
		Description:      optString(r.Description),
		CateId:           optInt(r.CateID),
		Tags:             optString(joinTags(r.Tags)),
		StorageLocation:  optString(r.StorageLocation),
		AppId:            optString(r.AppID),
		UserData:         optString(r.UserData),
	}
}

func attachedRequest(r CreateRequest) *vod.CreateUploadAttachedMediaRequest {
	ext := r.MediaExt
	if ext == "" {
		ext = extOf(r.FileName)
	}
	in := &vod.CreateUploadAttachedMediaRequest{
		BusinessType:    dara.String(r.BusinessType),
		MediaExt:        optString(ext),
		FileName:        optString(r.FileName),
		Title:           optString(r.Title),
		Description:     optString(r.Description),
		Tags:            optString(joinTags(r.Tags)),
		StorageLocation: optString(r.StorageLocation),
		AppId:           optString(r.AppID),
		UserData:        optString(r.UserData),
	}
	if r.FileSize > 0 {
		in.FileSize = dara.String(strconv.FormatInt(r.FileSize, 10))
	}
	if r.CateID > 0 {
		in.CateIds = dara.String(strconv.FormatInt(r.CateID, 10))
	}
	return in
}

// extOf returns the lower-cased extension of name without the dot, or "".
func extOf(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(strings.ReplaceAll(name, `\`, "/")), "."))
}

func joinTags(tags []string) string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return dara.String(s)
}

func optInt(n int64) *int64 {
	if n <= 0 {
		return nil
	}
	return dara.Int64(n)
}
