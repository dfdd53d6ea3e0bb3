package vodbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/alibabacloud-go/tea/dara"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

// MaxURLsPerCall is how many URLs one UploadMediaByURL call takes.
const MaxURLsPerCall = 20

// URLItem is one online file to pull into VOD.
type URLItem struct {
	// URL is the source, as the client gave it (it is URL-encoded here).
	URL             string
	Title           string
	Description     string
	FileExtension   string // when the URL has none
	Tags            []string
	CateID          int64
	TemplateGroupID string
	WorkflowID      string
}

// URLRequest asks VOD to pull online files; the fields beyond Items
// apply to all of them.
type URLRequest struct {
	Items           []URLItem
	TemplateGroupID string
	WorkflowID      string
	StorageLocation string
	AppID           string
	UserData        string
}

// URLJob is VOD's job for one URL.
type URLJob struct {
	JobID     string
	SourceURL string
}

// UploadMediaByURL asks VOD to pull up to MaxURLsPerCall online files. It
// is not retried after an ambiguous failure: a lost answer may hide jobs.
func (c *Client) UploadMediaByURL(ctx context.Context, req URLRequest) ([]URLJob, error) {
	if n := len(req.Items); n == 0 || n > MaxURLsPerCall {
		return nil, fmt.Errorf("vodbridge: upload media by url: %d urls, want 1 to %d: %w", n, MaxURLsPerCall, ErrInvalidArgument)
	}
	type meta struct {
		SourceURL       string `json:"SourceURL"`
		Title           string `json:"Title,omitempty"`
		Description     string `json:"Description,omitempty"`
		FileExtension   string `json:"FileExtension,omitempty"`
		Tags            string `json:"Tags,omitempty"`
		CateID          string `json:"CateId,omitempty"`
		TemplateGroupID string `json:"TemplateGroupId,omitempty"`
		WorkflowID      string `json:"WorkflowId,omitempty"`
	}
	urls := make([]string, len(req.Items))
	metas := make([]meta, len(req.Items))
	for i, it := range req.Items {
		urls[i] = url.QueryEscape(it.URL) // VOD wants each URL encoded, then joined with commas
		metas[i] = meta{SourceURL: it.URL, Title: it.Title, Description: it.Description,
			FileExtension: it.FileExtension, Tags: joinTags(it.Tags), TemplateGroupID: it.TemplateGroupID, WorkflowID: it.WorkflowID}
		if it.CateID > 0 {
			metas[i].CateID = strconv.FormatInt(it.CateID, 10)
		}
	}
	mj, err := json.Marshal(metas)
	if err != nil {
		return nil, fmt.Errorf("vodbridge: upload media by url: %w", err)
	}
	in := &vod.UploadMediaByURLRequest{
		UploadURLs: dara.String(strings.Join(urls, ",")), UploadMetadatas: dara.String(string(mj)),
		TemplateGroupId: optString(req.TemplateGroupID), WorkflowId: optString(req.WorkflowID),
		StorageLocation: optString(req.StorageLocation), AppId: optString(req.AppID), UserData: optString(req.UserData),
	}
	var jobs []URLJob
	err = c.call(ctx, "UploadMediaByURL", false, func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
		out, err := sdk.UploadMediaByURLWithContext(ctx, in, rt)
		if err == nil && out != nil && out.Body != nil {
			jobs = jobs[:0]
			for _, j := range out.Body.UploadJobs {
				jobs = append(jobs, URLJob{JobID: dara.StringValue(j.JobId), SourceURL: dara.StringValue(j.SourceURL)})
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// URLJobInfo is the state of a URL job as VOD reports it.
type URLJobInfo struct {
	JobID, MediaID, Status  string
	ErrorCode, ErrorMessage string
	FileSize                int64
}

// GetURLUploadInfos returns the state of up to 10 URL jobs; jobs VOD does
// not know are left out.
func (c *Client) GetURLUploadInfos(ctx context.Context, jobIDs []string) ([]URLJobInfo, error) {
	in := &vod.GetURLUploadInfosRequest{JobIds: dara.String(strings.Join(jobIDs, ","))}
	var infos []URLJobInfo
	err := c.call(ctx, "GetURLUploadInfos", true, func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error {
		out, err := sdk.GetURLUploadInfosWithContext(ctx, in, rt)
		if err == nil && out != nil && out.Body != nil {
			infos = infos[:0]
			for _, j := range out.Body.URLUploadInfoList {
				size, _ := strconv.ParseInt(dara.StringValue(j.FileSize), 10, 64)
				infos = append(infos, URLJobInfo{JobID: dara.StringValue(j.JobId), MediaID: dara.StringValue(j.MediaId),
					Status: dara.StringValue(j.Status), ErrorCode: dara.StringValue(j.ErrorCode),
					ErrorMessage: dara.StringValue(j.ErrorMessage), FileSize: size})
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return infos, nil
}
