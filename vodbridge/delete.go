package vodbridge

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/alibabacloud-go/tea/dara"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

// DeleteMedia deletes one media: DeleteVideo (source, streams and
// snapshots), DeleteImage (DeleteImageType=ImageId) or DeleteAttachedMedia.
// VOD answers 200 for an ID it does not know but lists it as non-existent;
// DeleteMedia then returns an error wrapping ErrNotFound (callers that
// delete idempotently treat that as success). A video listed as forbidden
// gives ErrAuth. Retried on throttling, 5xx and transport errors.
func (c *Client) DeleteMedia(ctx context.Context, t MediaType, id string) error {
	if err := checkID("delete media", id); err != nil {
		return err
	}
	var nonExist, forbidden []*string
	var op string
	var fn attemptFunc
	switch t {
	case MediaVideo:
		op = "DeleteVideo"
		in := &vod.DeleteVideoRequest{VideoIds: dara.String(id)}
		fn = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			out, err := sdk.DeleteVideoWithContext(ctx, in, rt)
			if err == nil && out != nil && out.Body != nil {
				nonExist, forbidden = out.Body.NonExistVideoIds, out.Body.ForbiddenVideoIds
			}
			return err
		}
	case MediaImage:
		op = "DeleteImage"
		in := &vod.DeleteImageRequest{DeleteImageType: dara.String("ImageId"), ImageIds: dara.String(id)}
		fn = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			_, err := sdk.DeleteImageWithContext(ctx, in, rt)
			return err
		}
	case MediaAttached:
		op = "DeleteAttachedMedia"
		in := &vod.DeleteAttachedMediaRequest{MediaIds: dara.String(id)}
		fn = func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
			out, err := sdk.DeleteAttachedMediaWithContext(ctx, in, rt)
			if err == nil && out != nil && out.Body != nil {
				nonExist = out.Body.NonExistMediaIds
			}
			return err
		}
	default:
		return fmt.Errorf("vodbridge: delete media: unknown media type %q: %w", t, ErrInvalidArgument)
	}
	if err := c.call(ctx, op, true, fn); err != nil {
		return err
	}
	if listed(nonExist, id) {
		return fmt.Errorf("vodbridge: %s %s: vod lists it as non-existent: %w", op, id, ErrNotFound)
	}
	if listed(forbidden, id) {
		return fmt.Errorf("vodbridge: %s %s: vod lists it as forbidden: %w", op, id, ErrAuth)
	}
	return nil
}

// DeleteMultipartUpload asks VOD to delete the leftover OSS parts of an
// upload (the source object, if any, is kept). VOD documents MediaType
// "video" only; t is sent as given. VOD removes leftover parts by itself
// after 7 days. Retried on throttling, 5xx and transport errors.
func (c *Client) DeleteMultipartUpload(ctx context.Context, t MediaType, id string) error {
	if err := checkID("delete multipart upload", id); err != nil {
		return err
	}
	switch t {
	case MediaVideo, MediaImage, MediaAttached:
	default:
		return fmt.Errorf("vodbridge: delete multipart upload: unknown media type %q: %w", t, ErrInvalidArgument)
	}
	in := &vod.DeleteMultipartUploadRequest{MediaId: dara.String(id), MediaType: dara.String(string(t))}
	return c.call(ctx, "DeleteMultipartUpload", true, func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
		_, err := sdk.DeleteMultipartUploadWithContext(ctx, in, rt)
		return err
	})
}

// checkID rejects an empty ID and one with a comma, which VOD would read as
// a list (a Delete* would then remove several media).
func checkID(what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("vodbridge: %s: empty media id: %w", what, ErrInvalidArgument)
	}
	if strings.ContainsAny(id, ", \t\r\n") {
		return fmt.Errorf("vodbridge: %s: media id %q contains a separator: %w", what, id, ErrInvalidArgument)
	}
	return nil
}

func listed(ids []*string, id string) bool {
	return slices.ContainsFunc(ids, func(s *string) bool { return dara.StringValue(s) == id })
}
