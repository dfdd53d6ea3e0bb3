package tusstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vodgate/vodgate/vodbridge"
)

// Record field names. A record is a hash of these fields (see
// internal/redisstate).
const (
	fieldInfo  = "info" // JSON recordInfo; the OSS uploadId is set in it at the first part
	fieldCred  = "cred" // JSON recordCred, written at creation and on refresh
	fieldTail  = "tail" // raw bytes after the last part, below the minimum part size
	partField  = "p:"   // "p:<n>" = "<etag> <size> <crc64>" for each recorded OSS part
	startField = "o:"   // "o:<n>" = decimal upload offset of part n's first byte (written with p:<n>; absent in older records)
	fieldNext  = "next" // decimal: the lowest part number not yet reserved by any writer
)

// recordInfo is the static part of an upload record.
type recordInfo struct {
	Size           int64             `json:"size"`
	SizeIsDeferred bool              `json:"deferred,omitempty"`
	MetaData       map[string]string `json:"meta,omitempty"`
	MediaID        string            `json:"mediaId"`
	MediaType      string            `json:"mediaType"`
	Endpoint       string            `json:"endpoint"`
	Accelerate     string            `json:"accel,omitempty"` // the acceleration endpoint bytes go to, if any
	Bucket         string            `json:"bucket"`
	Key            string            `json:"key"`
	OSSUploadID    string            `json:"ossUploadId"` // "" until the first part is sent (or after a single Put)
	Created        time.Time         `json:"created"`
	Expires        time.Time         `json:"expires"`
	Finished       bool              `json:"finished,omitempty"`
	Owner          string            `json:"owner,omitempty"`
	MaxSize        int64             `json:"maxSize,omitempty"` // the creator's cap; 0 = none
	ObjectCRC      uint64            `json:"crc,omitempty"`
	// Durable and Updated are the offset and time of the last write, so
	// a listing can show progress without reading the parts.
	Durable int64     `json:"durable,omitempty"`
	Updated time.Time `json:"updated,omitempty"`
	// Idem is the fingerprint of the creation an Idempotency-Key names.
	Idem string `json:"idem,omitempty"`
	// Parallel uploads (tus concatenation, see concat.go). Group is the
	// group record's ID, for partial and final uploads.
	Group    string   `json:"group,omitempty"`
	Partial  bool     `json:"partial,omitempty"`
	PartBase int      `json:"partBase,omitempty"` // a partial's first OSS part number
	PartEnd  int      `json:"partEnd,omitempty"`  // one past a partial's last OSS part number
	PartDone bool     `json:"partDone,omitempty"` // every byte of the partial is in a recorded part
	Final    bool     `json:"final,omitempty"`
	Partials []string `json:"partials,omitempty"` // a final upload's partial uploads, in order
}

// recordCred is the upload credential VOD issued.
type recordCred struct {
	AccessKeyID     string    `json:"ak"`
	AccessKeySecret string    `json:"sk"`
	SecurityToken   string    `json:"token"`
	Region          string    `json:"region,omitempty"`
	Issued          time.Time `json:"issued,omitempty"`
	Expires         time.Time `json:"expires"`
}

func credFrom(c vodbridge.Credential, issued time.Time) recordCred {
	return recordCred{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret,
		SecurityToken: c.SecurityToken, Region: c.Region, Issued: issued, Expires: c.Expires}
}

// refreshAt is when the credential should be replaced: beforeEnd ahead of
// its deadline; for a credential that lives no longer than beforeEnd (one
// VOD issued with a short lifetime), a sixth of its lifetime ahead, as
// 2,500 s of VOD's 3,000 s, so it is not refreshed on every call.
func (c *recordCred) refreshAt(beforeEnd time.Duration) time.Time {
	if life := c.Expires.Sub(c.Issued); !c.Issued.IsZero() && life > 0 && beforeEnd >= life {
		beforeEnd = life / 6
	}
	return c.Expires.Add(-beforeEnd)
}

// part is one OSS part recorded as durable. Start is the upload offset of
// its first byte (its "o:" field), or -1 in a record written before parts
// carried it (such parts were recorded strictly in order, so each follows
// the one before).
type part struct {
	Number int
	ETag   string
	Size   int64
	CRC    uint64
	Start  int64
}

func (p part) field() string { return partField + strconv.Itoa(p.Number) }

// fields are the record fields of p: its part field and, if it has a
// start, its start field (kept apart so that older readers, which know
// only "p:", still parse the record).
func (p part) fields() map[string][]byte {
	m := map[string][]byte{p.field(): []byte(fmt.Sprintf("%s %d %d", p.ETag, p.Size, p.CRC))}
	if p.Start >= 0 {
		m[startField+strconv.Itoa(p.Number)] = []byte(strconv.FormatInt(p.Start, 10))
	}
	return m
}

// names are the field names of part n.
func partNames(n int) []string {
	return []string{partField + strconv.Itoa(n), startField + strconv.Itoa(n)}
}

func parsePart(field string, v []byte) (part, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(field, partField))
	if err != nil {
		return part{}, fmt.Errorf("tusstore: bad part field %q: %w", field, err)
	}
	f := strings.Fields(string(v))
	if len(f) != 3 {
		return part{}, fmt.Errorf("tusstore: bad part %d record %q", n, v)
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	crc, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return part{}, fmt.Errorf("tusstore: bad part %d record %q", n, v)
	}
	return part{Number: n, ETag: f[0], Size: size, CRC: crc, Start: -1}, nil
}

// record is an upload record as loaded from Records.
//
// Parts may be acknowledged by OSS, and recorded, out of order (several
// are in flight at once), but only the longest prefix counts: parts holds
// the recorded parts that follow one another from byte 0 without a gap,
// ascending by number; ahead holds parts recorded beyond a gap, which
// count (move to parts) once the gap is filled. A record loaded with parts
// beyond a gap (the writer died before the gap was filled) drops them:
// they are never counted nor listed at Complete, their fields are deleted
// by the next part write (dropped), and their numbers are never reused.
type record struct {
	info  recordInfo
	cred  recordCred
	parts []part // the durable prefix, ascending by Number and Start
	ahead []part // recorded beyond a gap in this process, ascending by Start
	tail  []byte
	// next is the lowest part number no writer has reserved. Numbers are
	// reserved (a fenced write) before a part is uploaded, so a stale
	// writer can never overwrite, in OSS, a part another writer recorded.
	next int
	// dropped are the fields of parts loaded beyond a gap.
	dropped []string
	// top is the highest part number recorded or dropped.
	top int
}

// offset is the number of durable bytes: recorded parts plus the tail, or
// the whole size once finished (an upload written with one PutObject keeps
// neither parts nor tail).
func (r *record) offset() int64 {
	if r.info.Finished && !r.info.SizeIsDeferred {
		return r.info.Size
	}
	return r.partBytes() + int64(len(r.tail))
}

// partBytes is the size of the durable prefix of parts.
func (r *record) partBytes() int64 {
	if len(r.parts) == 0 {
		return 0
	}
	last := r.parts[len(r.parts)-1]
	if last.Start >= 0 {
		return last.Start + last.Size
	}
	var n int64
	for _, p := range r.parts {
		n += p.Size
	}
	return n
}

// nextPart is the number of the next part to reserve: above every
// recorded part and every reservation.
func (r *record) nextPart() int {
	n := max(r.next, 1, r.top+1)
	if len(r.parts) > 0 {
		n = max(n, r.parts[len(r.parts)-1].Number+1)
	}
	return n
}

// addPart adds a part OSS acknowledged and the record now holds: to the
// prefix if it starts where the prefix ends (then also every part ahead
// that the prefix now reaches), else ahead of the gap.
func (r *record) addPart(p part) {
	r.top = max(r.top, p.Number)
	if p.Start != r.partBytes() {
		i := sort.Search(len(r.ahead), func(i int) bool { return r.ahead[i].Start > p.Start })
		r.ahead = append(r.ahead, part{})
		copy(r.ahead[i+1:], r.ahead[i:])
		r.ahead[i] = p
		return
	}
	r.parts = append(r.parts, p)
	for len(r.ahead) > 0 && r.ahead[0].Start == r.partBytes() {
		r.parts = append(r.parts, r.ahead[0])
		r.ahead = r.ahead[1:]
	}
}

// offsetWith is the durable offset once p is added (tailed: p consumes
// the tail), without adding it.
func (r *record) offsetWith(p part, tailed bool) int64 {
	end, tail := r.partBytes(), int64(len(r.tail))
	if p.Start != end {
		return end + tail // beyond a gap: nothing more counts yet
	}
	if tailed {
		tail = 0
	}
	end += p.Size
	for _, a := range r.ahead {
		if a.Start == end {
			end += a.Size
		} else if a.Start > end {
			break
		}
	}
	return end + tail
}

// prefix keeps in parts (sorted by number) only those that follow one
// another from byte 0, and notes the others as dropped.
func (r *record) prefix() {
	sort.Slice(r.parts, func(i, j int) bool { return r.parts[i].Number < r.parts[j].Number })
	kept := r.parts[:0]
	var end int64
	for _, p := range r.parts {
		r.top = max(r.top, p.Number)
		if p.Start >= 0 && p.Start != end {
			r.dropped = append(r.dropped, partNames(p.Number)...)
			continue
		}
		kept = append(kept, p)
		end += p.Size
	}
	r.parts = kept
}

// crc is the CRC-64/ECMA of all recorded parts in order.
func (r *record) crc() uint64 {
	var c uint64
	for i, p := range r.parts {
		if i == 0 {
			c = p.CRC
			continue
		}
		c = crcCombine(c, p.CRC, uint64(p.Size))
	}
	return c
}

func encodeRecord(r *record) (map[string][]byte, error) {
	info, err := json.Marshal(r.info)
	if err != nil {
		return nil, fmt.Errorf("tusstore: encode info: %w", err)
	}
	cred, err := json.Marshal(r.cred)
	if err != nil {
		return nil, fmt.Errorf("tusstore: encode credential: %w", err)
	}
	m := map[string][]byte{fieldInfo: info, fieldCred: cred}
	for _, p := range r.parts {
		maps.Copy(m, p.fields())
	}
	if len(r.tail) > 0 {
		m[fieldTail] = r.tail
	}
	if r.next > 0 {
		m[fieldNext] = []byte(strconv.Itoa(r.next))
	}
	return m, nil
}

func decodeRecord(m map[string][]byte) (*record, error) {
	r := &record{}
	if err := json.Unmarshal(m[fieldInfo], &r.info); err != nil {
		return nil, fmt.Errorf("tusstore: decode info: %w", err)
	}
	if err := json.Unmarshal(m[fieldCred], &r.cred); err != nil {
		return nil, fmt.Errorf("tusstore: decode credential: %w", err)
	}
	r.tail = m[fieldTail]
	if v, ok := m[fieldNext]; ok {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return nil, fmt.Errorf("tusstore: bad next part %q: %w", v, err)
		}
		r.next = n
	}
	for k, v := range m {
		if !strings.HasPrefix(k, partField) {
			continue
		}
		p, err := parsePart(k, v)
		if err != nil {
			return nil, err
		}
		if sv, ok := m[startField+strconv.Itoa(p.Number)]; ok {
			if p.Start, err = strconv.ParseInt(string(sv), 10, 64); err != nil || p.Start < 0 {
				return nil, fmt.Errorf("tusstore: bad start %q of part %d", sv, p.Number)
			}
		}
		r.parts = append(r.parts, p)
	}
	r.prefix()
	return r, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("tusstore: marshal %T: %v", v, err)) // only plain structs are passed
	}
	return b
}
