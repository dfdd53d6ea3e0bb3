package osstest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Location     string   `xml:"Location"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	ETag         string   `xml:"ETag"`
}

// maxCompleteBody bounds the Complete XML (10,000 parts fit easily).
const maxCompleteBody = 8 << 20

func (s *Server) complete(rq *request) {
	id := rq.q.Get("uploadId")
	body, err := io.ReadAll(io.LimitReader(rq.r.Body, maxCompleteBody))
	rq.bytes = int64(len(body))
	if err != nil {
		rq.fail(newErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", ""))
		return
	}
	all := strings.EqualFold(rq.r.Header.Get("X-Oss-Complete-All"), "yes")
	var want []int // nil with complete-all: every uploaded part
	etags := map[int]string{}
	if all {
		// An empty body, or (as the v1 Go SDK sends with nil parts) an empty
		// <CompleteMultipartUpload/>, is accepted; a list of parts is not.
		var req completeRequest
		if len(bytes.TrimSpace(body)) != 0 && (xml.Unmarshal(body, &req) != nil || len(req.Parts) != 0) {
			rq.fail(errInvalidArgument("Should not specify both complete all header and http body.", "x-oss-complete-all", "yes"))
			return
		}
	} else {
		var req completeRequest
		if err := xml.Unmarshal(body, &req); err != nil || len(req.Parts) == 0 {
			rq.fail(errMalformedXML())
			return
		}
		for i, p := range req.Parts {
			if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
				rq.fail(newErr(400, "InvalidPartOrder", "The list of parts was not in ascending order. "+
					"Parts list must specified in order by part number.", "0042-00000209"))
				return
			}
			want = append(want, p.PartNumber)
			etags[p.PartNumber] = p.ETag
		}
		rq.parts = want
	}

	s.mu.Lock()
	u, e := s.lookupUpload(id, rq.bucket, rq.key)
	var parts []*part
	if e == nil {
		parts, e = s.selectParts(u, want, etags, all)
	}
	if e == nil && strings.EqualFold(rq.r.Header.Get("X-Oss-Forbid-Overwrite"), "true") {
		if _, exists := s.objects[objectKey{rq.bucket, rq.key}]; exists {
			e = newErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.", "0016-00000502")
		}
	}
	if e == nil {
		delete(s.uploads, id) // the id is dead from here on
	}
	s.mu.Unlock()
	if e != nil {
		rq.fail(e)
		return
	}

	obj, err := s.assemble(u, parts)
	if err != nil {
		s.mu.Lock()
		s.uploads[id] = u
		s.mu.Unlock()
		rq.fail(errInternal(err.Error()))
		return
	}
	s.storeObject(obj)
	used := make(map[*part]bool, len(parts))
	for _, p := range parts {
		used[p] = true
	}
	for _, p := range u.parts {
		if !used[p] {
			p.blob.remove() // parts left out of the list are discarded
		}
	}
	s.notifyComplete(obj.info)

	key, enc := encodeKey(rq.key, rq.q)
	h := rq.w.Header()
	h.Set("ETag", obj.etag)
	rq.setCRC(obj.info.CRC64)
	rq.sendXML(http.StatusOK, completeResult{EncodingType: enc, Location: s.url + "/" + rq.bucket + "/" + uriEscape(rq.key, true),
		Bucket: rq.bucket, Key: key, ETag: obj.etag})
}

// selectParts checks the requested list against the uploaded parts: each
// must exist with a matching ETag (InvalidPart), and every part but the last
// must reach MinPartSize (EntityTooSmall). Call with s.mu held.
func (s *Server) selectParts(u *upload, want []int, etags map[int]string, all bool) ([]*part, *ossError) {
	if all {
		for n := range u.parts {
			want = append(want, n)
		}
		slices.Sort(want)
	}
	parts := make([]*part, 0, len(want))
	for _, n := range want {
		p := u.parts[n]
		if p == nil || !all && normETag(etags[n]) != normETag(p.etag()) {
			return nil, newErr(400, "InvalidPart", "One or more of the specified parts could not be found or the specified "+
				"entity tag might not have matched the part's entity tag.", "0042-00000208").
				with("UploadId", u.id).with("PartNumber", strconv.Itoa(n)).with("ETag", etags[n])
		}
		parts = append(parts, p)
	}
	for i, p := range parts {
		if i < len(parts)-1 && p.size < s.cfg.MinPartSize {
			return nil, newErr(400, "EntityTooSmall", "Your proposed upload smaller than the minimum allowed size.", "0042-00000213").
				with("ProposedSize", strconv.FormatInt(p.size, 10)).
				with("MinSizeAllowed", strconv.FormatInt(s.cfg.MinPartSize, 10)).
				with("PartNumber", strconv.Itoa(p.number)).with("PartEtag", p.etag())
		}
	}
	return parts, nil
}

// assemble builds the object from parts without copying bytes: the part
// blobs become the object's segments. SHA-256 is computed here, once; the
// CRC is combined from the part CRCs.
func (s *Server) assemble(u *upload, parts []*part) (*object, error) {
	obj := &object{contentType: u.contentType, meta: u.meta, modified: s.now()}
	obj.info = Object{Bucket: u.bucket, Key: u.key, Parts: len(parts)}
	etagSum := md5.New()
	for _, p := range parts {
		obj.segs = append(obj.segs, p.blob)
		obj.info.CRC64 = crcCombine(obj.info.CRC64, p.crc, p.size)
		obj.info.Size += p.size
		etagSum.Write(p.md5[:])
	}
	h := sha256.New()
	if _, err := copySegments(h, obj.segs, 0, obj.info.Size); err != nil {
		return nil, fmt.Errorf("osstest: hash object %s/%s: %w", u.bucket, u.key, err)
	}
	obj.info.SHA256 = hex.EncodeToString(h.Sum(nil))
	obj.etag = `"` + strings.ToUpper(hex.EncodeToString(etagSum.Sum(nil))) + "-" + strconv.Itoa(len(parts)) + `"`
	return obj, nil
}

// storeObject installs obj, dropping the object it replaces.
func (s *Server) storeObject(obj *object) {
	k := objectKey{obj.info.Bucket, obj.info.Key}
	s.mu.Lock()
	old := s.objects[k]
	s.objects[k] = obj
	s.mu.Unlock()
	if old != nil {
		old.removeBlobs()
	}
}

// notifyComplete runs the OnComplete hooks synchronously, without locks held.
func (s *Server) notifyComplete(o Object) {
	s.mu.Lock()
	hooks := slices.Clone(s.onComplete)
	s.mu.Unlock()
	for _, fn := range hooks {
		fn(o.Bucket, o.Key, o.Size)
	}
}
