// Package resumable serves the IETF "Resumable Uploads for HTTP" draft
// (draft-ietf-httpbis-resumable-upload, interop versions 3 to 8) on the tus
// endpoint, in front of tusd.
//
// tusd v2.9.1 speaks interop versions 3 to 6 (drafts -01 to -05) when its
// EnableExperimentalProtocol is on; [Middleware] lets it do the protocol
// work for every version and adds what the later drafts require and tusd
// lacks:
//
//   - interop 7 (drafts -06 to -08) and 8 (-09 to -11) are handed to tusd
//     as version 6, which is the same on the wire for creation, offset
//     retrieval, append and cancellation, and every response (the 104
//     interim response included) names the client's version again;
//   - Upload-Limit (max-size, min-size, max-append-size and max-age, called
//     expires before interop 7) on OPTIONS, 104 and every draft response;
//   - 415 for an append not labelled application/partial-upload (interop
//     6 onward; tusd answers 400);
//   - Upload-Complete (Upload-Incomplete for interop 3) on creation and
//     append responses, from the upload's state, not the request's wish;
//   - RFC 9457 problem details (interop 6 onward): 409
//     mismatching-upload-offset with expected-offset and provided-offset
//     and the offset in Upload-Offset, 400 completed-upload for an append
//     to a finished upload at another offset, 400 inconsistent-upload-length
//     (interop 7 onward) when Upload-Length contradicts the length known.
//
// The middleware sits inside the gateway's tus chain, after
// authentication and limits and before the server's own tus layers, so
// ownership, quotas, durability and the Vod-Media-* headers apply to draft
// requests as they do to tus. [Metadata] maps a draft creation's headers
// to tus metadata, because the draft has none of its own.
package resumable
