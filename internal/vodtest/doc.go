// Package vodtest is a wire-level simulator of the ApsaraVideo VOD (vod 2017-03-21) upload API,
// for tests and the gateway's -dev mode. The unmodified official SDK
// (github.com/alibabacloud-go/vod-20170321/v4/client) talks to it over loopback:
//
//	srv := vodtest.NewServer(vodtest.Config{OSS: ossSim, AccessKeys: map[string]string{"ak": "sk"}})
//	defer srv.Close()
//	c, _ := vod.NewClient(&openapi.Config{Endpoint: tea.String(srv.Endpoint()), Protocol: tea.String("http"),
//		AccessKeyId: tea.String("ak"), AccessKeySecret: tea.String("sk")})
//
// # Wire
//
// Every call is POST (or GET) "/" with the parameters in the query string (a form body is also
// read), the action in the x-acs-action header (or the Action parameter) and x-acs-version
// 2017-03-21. The ACS3-HMAC-SHA256 signature is recomputed independently of any SDK (see auth.go):
// the query is decoded and re-encoded canonically (RFC 3986: %20, %2A, literal ~), SignedHeaders are
// used as sent, host includes the port and x-acs-content-sha256 must equal sha256(body). The legacy
// RPC HMAC-SHA1 signature (SDK option SignatureAlgorithm "v2") is accepted too. Keys listed in
// Config.SecurityTokens must send exactly that x-acs-security-token; x-acs-date must be within
// Config.MaxSkew of Config.Clock; a signature nonce cannot be reused.
//
// Answers are JSON with Content-Type "application/json;charset=utf-8"; errors are
// {"RequestId","HostId","Code","Message"} with the real HTTP status (see errors.go for the codes and
// where they come from), so the SDK produces its usual *tea.SDKError (and ThrottlingError for
// Throttling.User).
//
// # Actions
//
// CreateUploadVideo, RefreshUploadVideo, CreateUploadImage, CreateUploadAttachedMedia, GetVideoInfo,
// GetMezzanineInfo, GetUploadDetails, GetImageInfo, DeleteVideo, DeleteImage, DeleteAttachedMedia,
// DeleteMultipartUpload, UploadMediaByURL and GetURLUploadInfos. Create* mint a media id (32 hex), an
// object key containing "/" in the storage location's bucket (default outin-<32hex>), and an STS-like
// credential ("STS.…", "CAIS…") registered with the OSS simulator via osstest.Server.Grant, scoped to
// exactly that (bucket, key) and expiring Config.CredentialTTL after Clock. UploadAddress and
// UploadAuth are base64 JSON, with UploadAddress.Endpoint = the OSS simulator's URL (an IP literal,
// so the OSS SDK uses path style). A video's UploadAddress also carries ObjectPrefix (the key's
// directory plus "/", where the official uploaders put m3u8 slices; the credential still covers
// only FileName). RefreshUploadVideo keeps the address and issues a new credential;
// older credentials keep their own expiry unless Config.RevokeOnRefresh.
//
// # State
//
// A media asset starts Uploading. When the OSS simulator reports a completed object at its key
// (osstest.Server.OnComplete, registered by NewServer), a video becomes UploadSucc (images and
// attached media become Normal) with the object's size; Config.NormalAfter or SetStatus move a video on
// to Normal. DeleteVideo/DeleteImage/DeleteAttachedMedia forget the asset but leave the object in
// OSS. DeleteMultipartUpload aborts the key's open multipart uploads; SweepLeftoverParts stands for
// VOD's 7-day clean-up of unfinished uploads. Nothing is transcoded.
//
// # Event callbacks
//
// The first completion of a media asset's object sends FileUploadComplete (video and audio),
// ImageUploadComplete or AttachedMediaUploadComplete; a finished UploadMediaByURL job sends
// UploadByURLComplete (found by a background poller as Clock advances, or by any query). Bodies follow
// the VOD event docs (see callbacks.go): EventTime is yyyy-MM-ddTHH:mm:ssZ, except ImageUploadComplete's
// yyyy-MM-ddTHH:mm:ss:SSSZ (milliseconds after a colon, as documented); Extend is UserData.Extend
// as a JSON string. An event goes to the upload's UserData MessageCallback.CallbackURL (CallbackType
// http or empty; mns is ignored) or else Config.CallbackURL, and only if its type is in
// Config.CallbackEvents; with no URL nothing is sent. (Real VOD honours a per-upload URL only when
// global HTTP callbacks are configured; the simulator does not insist.) With Config.CallbackAuthKey
// each request carries X-VOD-TIMESTAMP (Clock, unix seconds) and X-VOD-SIGNATURE =
// md5hex(url|timestamp|key); the body is not signed. Delivery is asynchronous (at most 8 in flight)
// through Config.HTTPClient; only a 200 answer counts as delivered, and a failed event is retried
// with a doubling interval up to Config.CallbackAttempts (3, as VOD: two retries) times, then
// discarded. SetCallbackFaults adds a delay, duplicate delivery, drop, a bad signature or a stale
// timestamp; Deliveries lists every attempt and WaitDeliveries waits for finished ones.
//
// # Faults and inspection
//
// FailNext, SetLatency, ExpireAll, Forbid, SetStatus, SetCallbackFaults and an injectable Clock
// shape the behaviour; Calls, CallCount, Media, AllMedia and Deliveries show what happened (never
// secrets). The same is available as
// JSON under /_sim/ on the listener (see serveSim).
//
// The package shares no code with any VOD client: a wrong assumption cannot hide on both sides.
package vodtest
