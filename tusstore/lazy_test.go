package tusstore

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vodgate/vodgate/internal/osstest"
)

// ossOps counts the OSS calls that shape an upload.
type ossOps struct {
	Initiate, Part, Complete, Abort, Put int
}

func (e *env) ops() ossOps {
	return ossOps{
		Initiate: e.oss.CallCount(osstest.OpInitiate), Part: e.oss.CallCount(osstest.OpUploadPart),
		Complete: e.oss.CallCount(osstest.OpComplete), Abort: e.oss.CallCount(osstest.OpAbort),
		Put: e.oss.CallCount(osstest.OpPut),
	}
}

// noOpenUploads fails if a multipart upload was left behind in OSS.
func (e *env) noOpenUploads() {
	e.t.Helper()
	if ups := e.oss.Uploads(); len(ups) != 0 {
		e.t.Fatalf("open multipart uploads: %+v", ups)
	}
}

func uploadID(loc string) string { return loc[strings.LastIndex(loc, "/")+1:] }

// Creation is VOD and Redis only: no OSS request at all.
func TestCreationMakesNoOSSCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64
		meta   map[string]string
	}{
		{"video of 1 MiB", 1 << 20, map[string]string{"filename": "clip.mp4"}},
		{"deferred length", -1, map[string]string{"filename": "live.ts"}},
		{"image", 5000, map[string]string{"filename": "a.png", "type": "image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			loc := e.create(tc.length, tc.meta)
			if calls := e.oss.Calls(); len(calls) != 0 {
				t.Fatalf("creation made OSS calls: %+v", calls)
			}
			u, err := e.store.GetUpload(context.Background(), uploadID(loc))
			if err != nil {
				t.Fatal(err)
			}
			if id := u.(*upload).rec.info.OSSUploadID; id != "" {
				t.Fatalf("record has OSS uploadId %q after creation", id)
			}
		})
	}
}

// The first part initiates the multipart upload, once, however the bytes
// arrive; a credential that expired before it is refreshed as for parts.
func TestFirstPartInitiatesOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		chunk    int // 0 = one PATCH
		inject   func(e *env)
		initiate int // Initiate calls, failed ones included
		refresh  int
	}{
		{name: "one PATCH", size: 3<<20 + 5, initiate: 1},
		{name: "700 KB chunks", size: 3<<20 + 5, chunk: 700 << 10, initiate: 1},
		{name: "50 KB chunks, tails first", size: 1 << 20, chunk: 50 << 10, initiate: 1},
		{name: "first PATCH of 150 KB is a part", size: 300 << 10, chunk: 150 << 10, initiate: 1},
		{name: "initiate 500 then success", size: 2 << 20, initiate: 2,
			inject: func(e *env) { e.oss.FailNext(osstest.OpInitiate, 1, 500, "InternalError") }},
		{name: "credential expired before the first part", size: 2 << 20, initiate: 2, refresh: 1,
			inject: func(e *env) { e.vod.ExpireAll() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			data := randomBytes(tc.size, uint64(tc.size))
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			if tc.inject != nil {
				tc.inject(e)
			}
			chunk := tc.chunk
			if chunk == 0 {
				chunk = len(data)
			}
			for off := 0; off < len(data); off += chunk {
				end := min(off+chunk, len(data))
				if res := e.patch(loc, int64(off), data[off:end], nil); res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH at %d: status %d", off, res.StatusCode)
				}
			}
			e.checkObject(loc, data)
			e.noOpenUploads()
			got := e.ops()
			if got.Initiate != tc.initiate || got.Put != 0 || got.Complete != 1 || got.Abort != 0 {
				t.Fatalf("OSS calls %+v, want %d Initiate, 1 Complete, no Put or Abort", got, tc.initiate)
			}
			if n := e.vod.CallCount("RefreshUploadVideo"); n != tc.refresh {
				t.Fatalf("RefreshUploadVideo called %d times, want %d", n, tc.refresh)
			}
		})
	}
}

// A holder that lost its lock initiates, but its fenced write of the
// uploadId is refused: it sends no part and aborts what it initiated.
func TestStaleInitiateIsAborted(t *testing.T) {
	f := &fence{held: true, token: 5}
	e := newEnv(t, func(c *Config) { c.Fencer = f })
	data := randomBytes(2<<20, 21)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	f.key = "vodgate:{" + uploadID(loc) + "}:fence"
	e.mr.Set(f.key, "6") // another instance took the lock
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusLocked {
		t.Fatalf("stale PATCH: %d", res.StatusCode)
	}
	if got := e.ops(); got != (ossOps{Initiate: 1, Abort: 1}) {
		t.Fatalf("OSS calls %+v, want one Initiate and its Abort", got)
	}
	e.noOpenUploads()
	if off := e.offset(loc); off != 0 {
		t.Fatalf("offset %d after the stale PATCH", off)
	}
	f.token = 6 // the current holder
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH of the current holder: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
}

// flakyRecords fails the next record write with a Temporary error, either
// after applying it (its reply lost) or without.
type flakyRecords struct {
	Records
	fail    atomic.Bool
	applied bool
}

type tempError struct{}

func (tempError) Error() string   { return "redis: i/o timeout" }
func (tempError) Temporary() bool { return true }

func (r *flakyRecords) Update(ctx context.Context, id, fenceKey string, token int64, set map[string][]byte, del []string) error {
	if !r.fail.CompareAndSwap(true, false) {
		return r.Records.Update(ctx, id, fenceKey, token, set, del)
	}
	if r.applied {
		if err := r.Records.Update(ctx, id, fenceKey, token, set, del); err != nil {
			return err
		}
	}
	return tempError{}
}

// When the write of the uploadId fails with an unknown outcome, the record
// decides: the uploadId is kept if it landed, else aborted.
func TestInitiateWriteOutcomeUnknown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		applied bool
		status  int
		ops     ossOps
	}{
		{"write landed, reply lost", true, http.StatusNoContent, ossOps{Initiate: 1, Part: 2, Complete: 1}},
		{"write failed", false, http.StatusServiceUnavailable, ossOps{Initiate: 1, Abort: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := &flakyRecords{applied: tc.applied}
			e := newEnv(t, func(c *Config) { fr.Records = c.Records; c.Records = fr })
			data := randomBytes(2<<20, 22)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			fr.fail.Store(true)
			if res := e.patch(loc, 0, data, nil); res.StatusCode != tc.status {
				t.Fatalf("PATCH: %d, want %d", res.StatusCode, tc.status)
			}
			if got := e.ops(); got != tc.ops {
				t.Fatalf("OSS calls %+v, want %+v", got, tc.ops)
			}
			if tc.status != http.StatusNoContent {
				e.noOpenUploads()
				if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH after the failed write: %d", res.StatusCode)
				}
			}
			e.checkObject(loc, data)
			e.noOpenUploads()
		})
	}
}

// An upload that never fills a part, or whose bytes all arrive in the
// PATCH that ends it, is written with one PutObject: no multipart upload,
// and no tail left in Redis.
func TestTailOnlyUploadFinishesWithPut(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		chunk    int // 0 = one PATCH
		deferred bool
		meta     map[string]string
	}{
		{name: "1 byte", size: 1},
		{name: "99 KB", size: 99 * 1000},
		{name: "100 KiB - 1", size: 100<<10 - 1},
		{name: "99 KB in 33 KB chunks", size: 99 * 1000, chunk: 33 * 1000},
		{name: "100 KiB + 1 in one PATCH", size: 100<<10 + 1},
		{name: "part size - 1 in one PATCH", size: 1<<20 - 1},
		{name: "90 KB tail, then the last 90 KB", size: 180 * 1000, chunk: 90 * 1000},
		{name: "deferred length", size: 60 << 10, chunk: 25 << 10, deferred: true},
		{name: "image", size: 20 << 10, meta: map[string]string{"filename": "a.png", "type": "image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			data := randomBytes(tc.size, uint64(tc.size)+1)
			meta := tc.meta
			if meta == nil {
				meta = map[string]string{"filename": "clip.mp4"}
			}
			length := int64(len(data))
			if tc.deferred {
				length = -1
			}
			loc := e.create(length, meta)
			chunk := tc.chunk
			if chunk == 0 {
				chunk = len(data)
			}
			for off := 0; off < len(data); off += chunk {
				end := min(off+chunk, len(data))
				var extra map[string]string
				if tc.deferred && end == len(data) {
					extra = map[string]string{"Upload-Length": strconv.Itoa(len(data))}
				}
				if res := e.patch(loc, int64(off), data[off:end], extra); res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH at %d: status %d", off, res.StatusCode)
				}
			}
			e.checkObject(loc, data)
			e.noOpenUploads()
			if got := e.ops(); got != (ossOps{Put: 1}) {
				t.Fatalf("OSS calls %+v, want one Put", got)
			}
			if off := e.offset(loc); off != int64(len(data)) {
				t.Fatalf("offset %d after finish, want %d", off, len(data))
			}
			m, err := e.store.cfg.Records.Load(context.Background(), uploadID(loc))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m[fieldTail]; ok {
				t.Fatal("tail kept in the record after finish")
			}
		})
	}
}

// A multipart upload initiated for a first part that was never recorded
// (a streamed part cut short) is aborted when the tail is put instead.
func TestUnusedMultipartAbortedAtPut(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(70<<10, 23)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	ctx := context.Background()
	hu, err := e.store.GetUpload(ctx, uploadID(loc))
	if err != nil {
		t.Fatal(err)
	}
	if err := hu.(*upload).initiate(ctx, map[string][]byte{fieldNext: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	e.noOpenUploads()
	if got := e.ops(); got != (ossOps{Initiate: 1, Abort: 1, Put: 1}) {
		t.Fatalf("OSS calls %+v", got)
	}
}

// An empty upload still becomes an (empty) object, also when tusd finishes
// it without the upload's lock (it does so right after creation).
func TestEmptyUpload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fenced bool
		post   map[string]string // extra POST headers
		patch  bool              // deferred: PATCH with Upload-Length: 0
	}{
		{name: "unfenced"},
		{name: "fenced, finished without the lock", fenced: true},
		{name: "creation with an empty body", fenced: true,
			post: map[string]string{"Content-Type": "application/offset+octet-stream"}},
		{name: "deferred, declared 0", patch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if tc.fenced {
					c.Fencer = &fence{} // never held, as for tusd's unlocked finish
				}
			})
			h := map[string]string{"Upload-Metadata": encodeMeta(map[string]string{"filename": "empty.mp4"})}
			if tc.patch {
				h["Upload-Defer-Length"] = "1"
			} else {
				h["Upload-Length"] = "0"
			}
			for k, v := range tc.post {
				h[k] = v
			}
			res := e.do(http.MethodPost, e.url, h, nil)
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("POST: %d", res.StatusCode)
			}
			loc := res.Header.Get("Location")
			if tc.patch {
				if res := e.patch(loc, 0, nil, map[string]string{"Upload-Length": "0"}); res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH: %d", res.StatusCode)
				}
			}
			e.checkObject(loc, nil)
			if got := e.ops(); got != (ossOps{Put: 1}) {
				t.Fatalf("OSS calls %+v, want one Put", got)
			}
			if res := e.do(http.MethodHead, loc, nil, nil); res.Header.Get("Upload-Offset") != "0" || res.Header.Get("Upload-Length") != "0" {
				t.Fatalf("HEAD: offset %q length %q", res.Header.Get("Upload-Offset"), res.Header.Get("Upload-Length"))
			}
		})
	}
}

// A PutObject whose response is lost, or whose CRC header is damaged, is
// recognised by the object (HEAD: size and CRC-64) without sending again.
func TestPutFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(o *osstest.Server)
		puts   int
		heads  bool
	}{
		{"response lost", func(o *osstest.Server) { o.LoseNextResponse(osstest.OpPut, 1) }, 1, true},
		{"crc header damaged", func(o *osstest.Server) { o.CorruptNextCRC(osstest.OpPut, 1) }, 1, true},
		{"500 then success", func(o *osstest.Server) { o.FailNext(osstest.OpPut, 1, 500, "InternalError") }, 2, true},
		{"connection reset", func(o *osstest.Server) { o.ResetNext(osstest.OpPut, 1, 1000) }, 2, true},
	} {
		for _, size := range []int{80 << 10, 600 << 10} { // buffered, then put; put while it arrives
			t.Run(tc.name+"/"+strconv.Itoa(size), func(t *testing.T) {
				putFault(t, size, tc.inject, tc.puts, tc.heads)
			})
		}
	}
}

// putFault uploads size bytes in one PATCH after inject and checks the
// object and the PutObject calls.
func putFault(t *testing.T, size int, inject func(o *osstest.Server), puts int, heads bool) {
	e := newEnv(t, nil)
	data := randomBytes(size, 24)
	loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
	inject(e.oss)
	if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", res.StatusCode)
	}
	e.checkObject(loc, data)
	if n := e.oss.CallCount(osstest.OpPut); n != puts {
		t.Fatalf("%d PutObject calls, want %d", n, puts)
	}
	if n := e.oss.CallCount(osstest.OpHead); heads && n == 0 {
		t.Fatal("no HeadObject")
	}
	e.noOpenUploads()
}

// Terminating an upload that never sent a part aborts nothing.
func TestTerminateBeforeAnyPart(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail int // bytes PATCHed before DELETE
	}{
		{"right after creation", 0},
		{"with a tail", 40 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DeleteMediaOnTerminate = true })
			loc := e.create(1<<20, map[string]string{"filename": "clip.mp4"})
			if tc.tail > 0 {
				if res := e.patch(loc, 0, randomBytes(tc.tail, 25), nil); res.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH: %d", res.StatusCode)
				}
			}
			if res := e.do(http.MethodDelete, loc, nil, nil); res.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d", res.StatusCode)
			}
			if calls := e.oss.Calls(); len(calls) != 0 {
				t.Fatalf("OSS calls for an upload without parts: %+v", calls)
			}
			if res := e.do(http.MethodHead, loc, nil, nil); res.StatusCode != http.StatusNotFound {
				t.Fatalf("HEAD after DELETE: %d", res.StatusCode)
			}
			if e.vod.CallCount("DeleteVideo") != 1 {
				t.Fatal("DeleteVideo not called")
			}
		})
	}
}

// A writer that lost its lock puts no object: the fenced write before the
// PutObject refuses it, whether the bytes fill a part or not.
func TestStaleWholePutIsFenced(t *testing.T) {
	for _, size := range []int{50 << 10, 300 << 10} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			f := &fence{held: true, token: 5}
			e := newEnv(t, func(c *Config) { c.Fencer = f })
			data := randomBytes(size, 25)
			loc := e.create(int64(len(data)), map[string]string{"filename": "clip.mp4"})
			f.key = "vodgate:{" + uploadID(loc) + "}:fence"
			e.mr.Set(f.key, "6") // another instance took the lock
			if res := e.patch(loc, 0, data, nil); res.StatusCode != http.StatusLocked {
				t.Fatalf("stale PATCH: %d", res.StatusCode)
			}
			if got := e.ops(); got != (ossOps{}) {
				t.Fatalf("stale writer made OSS calls %+v", got)
			}
			if off := e.offset(loc); off != 0 {
				t.Fatalf("stale writer moved offset to %d", off)
			}
		})
	}
}
