// Package vodbridge is the gateway's client for the ApsaraVideo VOD API,
// built on the official SDK (github.com/alibabacloud-go/vod-20170321/v4).
//
// It covers exactly the calls the gateway makes:
//
//   - [Client.CreateUpload]: CreateUploadVideo, CreateUploadImage or
//     CreateUploadAttachedMedia, chosen by [CreateRequest].Type.
//   - [Client.RefreshUpload]: RefreshUploadVideo (videos only).
//   - [Client.DeleteMedia]: DeleteVideo, DeleteImage or DeleteAttachedMedia.
//   - [Client.DeleteMultipartUpload]: DeleteMultipartUpload.
//
// Create and Refresh return a [Target]: the media ID, the decoded
// UploadAddress ([Address]: OSS endpoint with scheme, bucket, object key)
// and the decoded UploadAuth ([Credential]: an STS AccessKey scoped by VOD
// to that object). VOD's base64 JSON is decoded leniently (line breaks,
// missing padding, unknown fields, optional ObjectPrefix and Region).
// Credential.Expires is the earliest of ExpireUTCTime, issue time +
// Expiration (when it is a number of seconds) and issue time +
// Config.CredentialLifetime, where the issue time is the client clock just
// before the request was sent; refresh ahead of it.
//
// # Secrets
//
// Credential and Target implement slog.LogValuer, fmt.Stringer and
// fmt.GoStringer with AccessKeySecret and SecurityToken redacted (only the
// AccessKey id is shown). Errors never contain secrets, request parameters
// beyond media IDs, or the raw UploadAuth. JSON encoding is not redacted.
//
// # Errors
//
// Every error starts with "vodbridge: " and is classified by a sentinel
// reachable with errors.Is: [ErrThrottled], [ErrNotFound],
// [ErrInvalidArgument], [ErrAuth], [ErrServer], [ErrBadResponse]. A VOD
// error answer is an [*APIError] (Op, Code, Message, RequestID, Status,
// Attempts) whose Unwrap returns the sentinel. Transport failures and
// context errors are wrapped with %w (errors.Is(err,
// context.DeadlineExceeded) works).
//
// # Timeouts and retries
//
// Every method takes a ctx that bounds the whole call, retries included;
// the SDK's *WithContext methods put it on the HTTP request, so
// cancellation aborts the exchange in flight and no goroutine is left
// behind. Each attempt is further limited to Config.Timeout. The SDK
// retries nothing by default and its RetryOptions stay off; vodbridge makes
// up to Config.MaxAttempts attempts with exponential backoff (200ms base,
// 2s cap, jitter) on throttling, 5xx answers and transport errors, and
// never retries 4xx answers. Create* are not idempotent: after a timeout or
// a connection lost mid-exchange VOD may already have created the media,
// so they are retried on transport errors only when the request provably
// never left the host (DNS or dial failure). A 5xx is retried for Create*
// too; the rare media a failed-but-applied call leaves behind stays in
// "Uploading" and is harmless.
//
// # Concurrency and lifecycle
//
// A [Client] is safe for concurrent use. [New] validates the [Config]
// (errors are [*ConfigError]) and does no network I/O. Every attempt builds
// its own SDK client (the SDK's client mutates itself on each call) over
// one shared HTTP connection pool, which [Client.Close] drains.
//
// The RAM policy of the configured AccessKey needs vod:CreateUploadVideo,
// vod:CreateUploadImage, vod:CreateUploadAttachedMedia,
// vod:RefreshUploadVideo, vod:DeleteVideo, vod:DeleteImage,
// vod:DeleteAttachedMedia and vod:DeleteMultipartUpload.
package vodbridge
