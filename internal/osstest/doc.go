// Package osstest is a wire-faithful Aliyun OSS simulator for tests and for
// the gateway's -dev mode. The unmodified official Go SDK
// (github.com/aliyun/aliyun-oss-go-sdk/oss) talks to it over loopback:
//
//	srv := osstest.NewServer(osstest.Config{})
//	defer srv.Close()
//	srv.Grant(osstest.Grant{AccessKeyID: "STS.a", AccessKeySecret: "s", SecurityToken: "CAIS1",
//		Bucket: "outin-0123", Key: "sv/x.mp4", Expires: time.Now().Add(time.Hour)})
//	client, _ := oss.New(srv.URL(), "STS.a", "s", oss.SecurityToken("CAIS1"))
//
// URL is an IP literal, so the SDK sends path-style requests /<bucket>/<key…>.
// The key is taken from the decoded path ("%2F" is "/"). The simulator shares
// no code with any client: signatures are recomputed from the OSS docs.
//
// # Operations
//
// InitiateMultipartUpload (POST ?uploads), UploadPart (PUT ?partNumber&uploadId),
// ListParts (GET ?uploadId; max-parts default 1000, larger values are capped at 1000; exclusive
// part-number-marker; Key URL-encoded with encoding-type=url),
// CompleteMultipartUpload (POST ?uploadId; also x-oss-complete-all: yes with an
// empty body), AbortMultipartUpload (DELETE ?uploadId → 204), PutObject,
// GetObject (single byte Range), HeadObject (also ?objectMeta) and
// DeleteObject (→ 204). Anything else answers 501 NotImplemented.
//
// Semantics follow OSS: upload ids are 32 upper-case hex digits; re-uploading a
// part number replaces it; part ETags are `"` + upper-case hex MD5 + `"`;
// UploadPart, PutObject, GetObject and Complete return x-oss-hash-crc64ecma
// (CRC-64/ECMA; Complete's is the whole object's); a Content-MD5 that does not
// match gives 400 InvalidDigest; a part number outside 1..10000 gives 400
// InvalidArgument. Complete checks ascending order (InvalidPartOrder), that
// each part exists with that ETag (InvalidPart; quotes and case ignored) and
// that every part but the last has at least Config.MinPartSize bytes
// (EntityTooSmall). It then kills the upload id (later calls get 404
// NoSuchUpload), discards unlisted parts and runs the OnComplete hooks.
// x-oss-forbid-overwrite: true gives 409 FileAlreadyExists on Put and Complete.
//
// # Authentication
//
// Every OSS request must be signed with V1 ("OSS ak:sig", HMAC-SHA1) or V4
// ("OSS4-HMAC-SHA256 Credential=ak/yyyymmdd/region/oss/aliyun_v4_request,
// [AdditionalHeaders=…,]Signature=…", commas with or without spaces; the
// timestamp is x-oss-date, else Date; region must be Config.Region).
// Keys come from [Server.AddAccessKey] (long-lived, full access) or
// [Server.Grant] (STS, scoped). Checks run in this order, all 403 unless noted:
//
//   - no Authorization: AccessDenied; malformed: 400 InvalidArgument
//   - unknown key: InvalidAccessKeyId; a long-lived key sent with a token: InvalidAccessKeyId
//   - STS key without x-oss-security-token: InvalidAccessKeyId (as real OSS
//     does, "The Security Token may be lost…")
//   - token of another grant: AccessKeyIdAndSecurityTokenNotMatch; unknown
//     token: InvalidSecurityToken
//   - expired grant: SecurityTokenExpired
//   - Date (or x-oss-date) more than 15 minutes from Config.Clock: RequestTimeTooSkewed
//   - wrong signature: SignatureDoesNotMatch, with StringToSign (and, for V4,
//     CanonicalRequest) in the body
//   - bucket/key outside the grant: AccessDenied
//
// Responses carry x-oss-request-id and Server: AliyunOSS. Errors are <Error>
// XML (Code, Message, RequestId, HostId, op-specific elements, EC) with
// Content-Type application/xml; HEAD errors have an empty body and the XML
// base64-encoded in x-oss-err.
//
// # Faults and inspection
//
// [Server.FailNext], [Server.ResetNext], [Server.LoseNextResponse] and
// [Server.CorruptNextCRC] queue faults per operation (they fire before
// authentication, in the order queued); [Server.HoldPart] keeps a part
// number's uploads in flight (received, not acknowledged) until released; [Server.SetLatency] and
// [Server.SetBandwidth] shape every request. The clock is injectable
// (Config.Clock) for expiry and skew tests; [Server.ExpireAll] and
// [Server.RevokeGrant] end credentials at once. [Server.Calls] records each request. The same listener
// serves a JSON API under /_sim/ (see serveSim) so that out-of-process tests
// and the -dev mode can inspect state and inject faults.
//
// # Storage and performance
//
// In memory mode each part is one exact-size allocation; with Config.Dir set,
// parts and objects are files under a private subdirectory (removed by Close).
// Complete copies no bytes: the part blobs become the object. Bodies are read
// without holding any lock and hashed (MD5 + CRC-64) in one pass while they
// stream in; the object SHA-256 is computed once, at Complete (PutObject hashes
// it while streaming). All methods are safe for concurrent use. In Dir mode a
// GET racing a delete or overwrite of the same key may fail mid-body.
package osstest
