// Package auth authenticates tus requests and decides who owns an upload.
//
// [Authenticator.Middleware] runs in front of tusd. For every tus request
// except OPTIONS (CORS preflight and protocol discovery) it reads
// `Authorization: Bearer <token>`, verifies the token and puts a
// [tusstore.Caller] into the request context; [CallerOf] reads it back and
// is what tusstore.Config.CallerOf is set to. tusd hands the request
// context (values intact) to the data store, which then:
//   - records Caller.Owner on uploads it creates and answers 404 to anyone
//     else on HEAD, PATCH and DELETE, so an upload's existence is not
//     revealed;
//   - enforces Caller.MaxSize at creation, on Upload-Length declared later
//     and in the middle of a PATCH (413);
//   - rejects media types outside Caller.MediaTypes (403);
//   - imposes Caller.Fixed VOD parameters over what the metadata asks for.
//
// Ownership is by Owner only, so a token renewed mid-upload (tus-js-client's
// onBeforeRequest) keeps working as long as its subject is the same.
//
// # Credentials
//
// Two kinds of bearer token are accepted, each enabled by configuration:
//
// JWT (RFC 7519, compact JWS). HS256 with a shared secret
// ([Config.JWTSecret]) and/or RS256 and ES256 with public keys from a JWKS
// URL ([Config.JWKSURL]). Only the algorithms configured are accepted;
// "none" never is, and the key type must match the algorithm (no HS256
// signed with an RSA public key). exp is required, nbf is honoured, both
// with [Config.Leeway]; iss and aud are checked when configured; sub is the
// owner. JWKS keys are cached: refreshed when older than
// [Config.JWKSRefresh], and when a token names an unknown kid, at most once
// per [Config.JWKSMinRefresh]. A failed refresh keeps the cached keys.
// Optional claims restrict what the token may create:
//
//	vod_max_size          number   largest upload in bytes
//	vod_media_types       [string] or "a,b": allowed media types (video, image, attached)
//	vod_template_group_id string   VOD TemplateGroupId imposed on the upload
//	vod_workflow_id       string   VOD WorkflowId imposed
//	vod_cate_id           number   VOD CateId imposed
//	vod_storage_location  string   VOD StorageLocation imposed
//	vod_app_id            string   VOD AppId imposed
//
// Upload tokens, minted by the app server with a shared HMAC key
// ([MintUploadToken], `gateway token`):
//
//	v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "v1." + base64url(JSON claims)))>
//
// base64url without padding. The claims are {"sub", "exp" (unix seconds),
// "iat", "max" (bytes), "types" ([string]), "tg" (TemplateGroupId), "wf"
// (WorkflowId), "cate" (CateId), "loc" (StorageLocation), "app" (AppId),
// "nonce"}; sub and exp are required, the rest optional with the meaning
// of the JWT claims above. Several keys may be configured for rotation;
// a token verifies if any of them signed it.
//
// Tokens are never accepted in the URL (they would leak into logs and
// Referer headers). A missing or invalid token gets 401 with a
// WWW-Authenticate header (RFC 6750) and a precise reason; a JWKS that
// cannot be fetched gets 503 with Retry-After. The Authorization header is
// removed from the request before tusd sees it. Rejections are counted in
// vodgate_auth_rejections_total{reason}.
//
// # Pre-create hook
//
// With [Config.Hook] set, [Authenticator.PreUploadCreate] (tusd's
// PreUploadCreateCallback) POSTs the upload's size, metadata, caller and an
// allowlist of request headers as JSON to the app server, which answers
// {"allow": bool, "reason": string, "metadata": {key: value|null}} (see
// [HookRequest], [HookResponse]). Timeouts, 5xx and network errors are
// retried up to [HookConfig.Attempts]; when no answer is obtained the
// creation fails closed with 503. Requests are signed with
// Vodgate-Signature when [HookConfig.Secret] is set.
//
// Secrets (JWT secret, HMAC keys, tokens, the hook secret) are never
// logged and never appear in errors or responses.
package auth
