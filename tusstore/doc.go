// Package tusstore is a tusd v2 DataStore that uploads each tus upload into
// ApsaraVideo VOD: the media is created through VOD (CreateUploadVideo,
// CreateUploadImage or CreateUploadAttachedMedia, see [CreateRequest] for
// the metadata mapping) and its bytes go straight to the VOD-owned OSS
// object, signed with the STS credential VOD issued for exactly that
// object: as one OSS multipart upload, or, for an upload smaller than one
// part, as one PutObject.
//
// # Mapping
//
//	tus upload ID (128-bit random hex)
//	  └─ record in Records (see internal/redisstate): media ID and type,
//	     OSS endpoint/bucket/key, OSS uploadId (empty until the first
//	     part), credential, recorded parts {number, ETag, size, CRC-64,
//	     start offset}, and the tail
//	VOD media (VideoId / ImageId / MediaId) ── OSS object <bucket>/<key>
//
// No local disk is used, so any instance sharing the records can continue
// any upload. Creation calls VOD and Records only: the OSS multipart upload
// is initiated when the first part is about to be sent, and its uploadId is
// recorded, in the same fenced write that reserves that part's number,
// before the part goes out.
//
// # Durability
//
// Upload-Offset is the longest prefix of recorded parts that follow one
// another from byte 0 without a gap, plus the tail. WriteChunk cuts the
// body into parts of PartSize (grown so the declared length fits in 10,000
// parts); up to OSSParallelParts parts are uploaded at once while the next
// one is read (see pipeline), and each is recorded, with the offset of its
// first byte, only after OSS acknowledged it and the CRC-64 OSS reports
// matches the bytes received. Parts may be acknowledged and recorded out
// of order; one recorded beyond a gap counts once the gap is filled. If
// the gap is never filled (the writer died or the earlier part failed),
// the part is dropped when the record is next loaded: not counted, never
// listed at Complete, its field deleted by the next part write, and its
// number, like every reserved number, never used again. When a body ends, early or not, the
// remainder is uploaded as a part if it is at least MinPartSize (the OSS
// 100 KB minimum), else stored as the tail in the record, so an interrupted
// PATCH keeps every byte it read. FinishUpload uploads the tail as the last
// part, completes from the recorded list and checks the object's size and
// CRC-64 (a Complete whose response was lost is recognised by the object).
// An upload with no recorded part whose bytes all arrive in the PATCH
// that ends it, at most one part, is written with one PutObject instead
// (streamed while the bytes arrive if they are at least MinPartSize), as
// is one that finishes with only a tail; both are checked the same way, a
// PutObject is preceded by a fenced write, and a multipart upload
// initiated for a part that was never recorded is then aborted. An empty upload is written (an
// empty PutObject) and recorded finished at creation, because tusd
// finishes it without taking its lock.
// Memory per upload is one part per part in flight plus the one being
// read, charged to a global BufferBudget (two parts are always allowed,
// more only while the budget has room); beyond it requests get 503 with
// Retry-After. The budget is one arena mapped once and never returned to
// the OS, handed out in 1 MiB blocks, last freed first (see arena).
//
// # Credentials
//
// VOD upload credentials last 3,000 s. Video credentials are refreshed
// with RefreshUploadVideo RefreshBefore their deadline and once when OSS
// answers 403 SecurityTokenExpired, InvalidAccessKeyId or
// InvalidSecurityToken; the OSS uploadId is kept. Image and attached-media
// credentials cannot be refreshed (VOD has no such call).
//
// # Concurrency
//
// tusd serialises requests per upload with its Locker. With a Fencer (the
// Redis locker), every record write also carries the lock's fencing token
// and is refused if another holder took over, so a paused instance never
// commits stale state (ErrLockLost, 423). Part numbers are reserved with
// such a write before a part is sent to OSS, so a paused holder that wakes
// mid-upload can only write a part number nobody else uses, never over a
// part the new holder recorded; Complete lists only recorded parts. A
// holder whose write of a new uploadId is refused aborts that multipart
// upload (best effort) and sends nothing to it.
//
// # Permissions
//
// The gateway's RAM identity needs vod:CreateUploadVideo,
// vod:CreateUploadImage, vod:CreateUploadAttachedMedia,
// vod:RefreshUploadVideo and, with DeleteMediaOnTerminate, vod:DeleteVideo,
// vod:DeleteImage and vod:DeleteAttachedMedia. OSS access comes from the
// per-upload credential VOD issues.
//
// # Limits
//
// Parts are 100 KB to 5 GB, at most 10,000; objects at most 48.8 TB.
// Expiration must stay below VOD's 7-day cleanup of leftover parts.
package tusstore
