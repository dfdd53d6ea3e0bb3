// Package limits protects the tus endpoint from abuse: request rates,
// unfinished uploads per owner, header and metadata sizes, and slow
// request bodies. Counters live in Redis, so every gateway instance
// enforces the same limits.
//
// Two middlewares wrap the tus handler, around authentication:
//
//	limiter.Request(auth.Middleware(limiter.Caller(tusd)))
//
// [Limiter.Request] needs no caller: it answers 431 to headers over
// Config.MaxHeaderBytes, 400 to an Upload-Metadata header over
// Config.MaxMetadataBytes or malformed (pairs tusd would silently drop),
// 429 with Retry-After past Config.IPRequests per client IP, and wraps the
// body of POST and PATCH so that a client sending slower than
// Config.MinSpeed averaged over Config.MinSpeedWindow, or idle for
// Config.BodyIdleTimeout, is cut with 408 and the connection closed. Only
// time the server spends waiting for body bytes counts, so a pause of the
// server (uploading a part to OSS, waiting for a lock) is never blamed on
// the client. Bytes received before the cut are kept by the store, as for
// any interrupted PATCH. (tusd's own NetworkTimeout limits each single
// read; it cannot see a client that sends one byte just often enough.)
//
// [Limiter.Caller] runs after authentication with the owner from
// Config.OwnerOf: 429 past Config.OwnerRequests requests or
// Config.OwnerCreates creations per Window, and past Config.OwnerUploads
// unfinished uploads.
//
// # Redis keys
//
// All keys carry a TTL, so Redis memory stays bounded whatever clients do:
//
//	<prefix>:limit:{ip:<addr>}:req:<n>   requests of a client IP in window n (TTL 2 windows)
//	<prefix>:limit:{o:<owner>}:req:<n>   requests of an owner in window n
//	<prefix>:limit:{o:<owner>}:new:<n>   creations of an owner in window n
//	<prefix>:limit:{o:<owner>}:uploads   sorted set of the owner's unfinished uploads (TTL UploadIdle+1s)
//
// Owners longer than 64 bytes or with other characters than
// [A-Za-z0-9._@:-] appear as "h" + 32 hex digits of their SHA-256. Rates
// use a sliding window (the previous fixed window's count, weighted by its
// overlap, plus the current one) in one Lua script per check; rejected
// requests are not counted, so a flood cannot extend its own ban. The
// windows follow the gateway's clock, so instances should run NTP.
//
// # Unfinished uploads
//
// A creation first reserves a "pending:<random>" member (scored now+2m),
// refused with 429 when the owner already has OwnerUploads members; when
// tusd answers 201 the member becomes the upload ID, scored
// now+UploadIdle; any other answer releases it. Each successful PATCH
// moves the score forward; the upload leaves the set when it finishes
// ([Limiter.PreFinishResponse], tusd's PreFinishResponseCallback) or is
// deleted (DELETE answered 204). Failure modes, all erring towards letting
// the owner upload again: an instance that dies mid-creation leaves a
// pending member for 2 minutes; an upload abandoned without DELETE (or
// expired by the store) counts until UploadIdle after its last PATCH; a
// Redis error while releasing leaves the member until its score passes.
// A finish is only seen by the instance that handled the final PATCH,
// which is always the case because that instance runs the callback.
//
// # Redis failures
//
// Each call has Config.RedisTimeout. When Redis cannot answer, requests
// pass (fail open, the default) or get 503 with Retry-After
// (Config.FailClosed); failures are counted in
// vodgate_limit_redis_errors_total and logged at most every 10 s.
// Rejections are counted in vodgate_limit_rejections_total{reason}.
package limits
