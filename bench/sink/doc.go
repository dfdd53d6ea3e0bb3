// Command sink is a fast multipart object sink for benchmarks only. It
// speaks the path-style S3/OSS REST shape that tusd's S3 store (AWS SDK
// for Go v2) and the gateway (Aliyun OSS SDK) use, so both write into the
// same backend in bench/compare:
//
//	POST   /<bucket>/<key>?uploads                     initiate multipart upload
//	PUT    /<bucket>/<key>?partNumber=N&uploadId=ID    upload part (ETag = MD5 of the bytes)
//	GET    /<bucket>/<key>?uploadId=ID                 list parts (max-parts, part-number-marker)
//	POST   /<bucket>/<key>?uploadId=ID                 complete (parts and ETags are checked)
//	DELETE /<bucket>/<key>?uploadId=ID                 abort
//	PUT    /<bucket>/<key>                             put object
//	GET    /<bucket>/<key>                             get object (only objects it kept)
//	HEAD   /<bucket>/<key>[?objectMeta]                head object / OSS GetObjectMeta
//	DELETE /<bucket>/<key>                             delete object
//	POST   /<bucket>?delete                            delete objects (S3 DeleteObjects)
//
// Any signature is accepted and none is checked. Part bytes are hashed
// and discarded, or written under -dir. Put objects up to -keep bytes whose
// names end in one of -keep-suffixes (default .info and .part: what tusd
// reads back) are kept in memory so they can be read back; other put
// objects and completed multipart objects keep only their size and ETag.
//
// Two endpoints give the client ceiling, i.e. what the client reaches when
// the server does nothing with the bytes:
//
//	PUT  /_discard/...    reads and discards the body, 204
//	     /_tus/           a minimal tus 1.0.0 server (creation, HEAD,
//	                      PATCH, DELETE) that counts bytes and discards them
//
// Names starting with '_' are not valid bucket names, so they cannot clash.
// GET /_stats returns counters as JSON.
//
// Usage:
//
//	sink [-listen 127.0.0.1:0] [-dir DIR] [-etag md5|none] [-keep BYTES] [-keep-suffixes .info,.part|*] [-addr-file FILE]
//
// It prints "sink listening on http://ADDR" once it accepts connections
// and stops on SIGINT/SIGTERM.
package main
