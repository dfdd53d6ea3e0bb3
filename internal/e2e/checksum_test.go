package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vodgate/vodgate/internal/osstest"
)

// flipProxy forwards requests to the gateway and, when told to, flips one
// byte of the next PATCH (or POST with a body) in transit (after the client computed its
// checksum). It forwards request trailers: the outgoing request shares the
// incoming one's Trailer map, which the server fills when the body ends,
// before the transport writes the trailer.
type flipProxy struct {
	t      testing.TB
	srv    *httptest.Server
	target *url.URL
	mu     sync.Mutex
	flipAt int64 // body position of the byte to flip in the next PATCH; -1 none
	flips  int
}

func newFlipProxy(t testing.TB, gatewayURL string) *flipProxy {
	t.Helper()
	u, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &flipProxy{t: t, target: u, flipAt: -1}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *flipProxy) Endpoint() string { return p.srv.URL + "/files/" }

// corruptNext flips the byte at body position at of the next PATCH.
func (p *flipProxy) corruptNext(at int64) {
	p.mu.Lock()
	p.flipAt = at
	p.mu.Unlock()
}

func (p *flipProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Method == http.MethodPatch || r.Method == http.MethodPost && r.ContentLength > 0 {
		p.mu.Lock()
		if p.flipAt >= 0 {
			body = &flipReader{r: r.Body, at: p.flipAt}
			p.flipAt = -1
			p.flips++
		}
		p.mu.Unlock()
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.Scheme+"://"+p.target.Host+r.URL.RequestURI(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Trailer")
	out.Host = r.Host // Location names the proxy
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	if len(r.Trailer) > 0 {
		out.Trailer = r.Trailer
		out.ContentLength = -1
	}
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// flipReader inverts the byte at position at of r.
type flipReader struct {
	r   io.Reader
	pos int64
	at  int64
}

func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		b[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

// checksumOf is "<alg> <base64 digest>" of b, computed with the standard
// library directly.
func checksumOf(alg string, b []byte) string {
	var d []byte
	switch alg {
	case "sha1":
		s := sha1.Sum(b)
		d = s[:]
	case "md5":
		s := md5.Sum(b)
		d = s[:]
	case "crc32":
		d = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b))
	case "sha256":
		s := sha256.Sum256(b)
		d = s[:]
	case "sha512":
		s := sha512.Sum512(b)
		d = s[:]
	}
	return alg + " " + base64.StdEncoding.EncodeToString(d)
}

func patchChecked(t testing.TB, uploadURL string, off int64, data []byte, sum string) rawResp {
	t.Helper()
	return tusDo(t, http.MethodPatch, uploadURL, map[string]string{
		"Content-Type":    "application/offset+octet-stream",
		"Upload-Offset":   itoa(off),
		"Upload-Checksum": sum,
	}, data)
}

// partsUploaded returns the part numbers of UploadPart calls for bucket/key
// that succeeded among calls[from:].
func partsUploaded(calls []osstest.Call, from int) []int {
	var out []int
	for _, c := range calls[from:] {
		if c.Op == osstest.OpUploadPart && c.Status == http.StatusOK {
			out = append(out, c.PartNumber)
		}
	}
	return out
}

// TestChecksumCorruptedPatch: for each algorithm, a PATCH of about 2 MiB
// (eight 256 KiB parts, the first starting with the 50 KiB tail the PATCH
// before left, streamed to OSS while they arrive) has one byte flipped in
// transit by a proxy after its first parts reached OSS. The gateway
// answers 460, HEAD keeps the offset of the PATCH before, the client sends
// the same bytes again and the object is the source (SHA-256 in the OSS
// simulator); Complete lists none of the parts the corrupted PATCH sent.
func TestChecksumCorruptedPatch(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_PART_SIZE": "256KiB"}})
	px := newFlipProxy(t, s.GW.URL())

	pre := tusDo(t, http.MethodOptions, px.Endpoint(), map[string]string{"Origin": "https://app.example.com",
		"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "upload-checksum"}, nil)
	if h := pre.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "Upload-Checksum") {
		t.Errorf("CORS preflight Access-Control-Allow-Headers = %q, lacks Upload-Checksum", h)
	}
	opt := tusDo(t, http.MethodOptions, px.Endpoint(), nil, nil)
	ext := strings.Split(opt.Header.Get("Tus-Extension"), ",")
	if !slices.Contains(ext, "checksum") || !slices.Contains(ext, "checksum-trailer") {
		t.Errorf("OPTIONS Tus-Extension = %q, want checksum and checksum-trailer", opt.Header.Get("Tus-Extension"))
	}
	algs := strings.Split(opt.Header.Get("Tus-Checksum-Algorithm"), ",")
	for _, a := range []string{"sha1", "md5", "crc32", "sha256", "sha512"} {
		if !slices.Contains(algs, a) {
			t.Errorf("OPTIONS Tus-Checksum-Algorithm = %q, lacks %s", opt.Header.Get("Tus-Checksum-Algorithm"), a)
		}
	}

	const (
		first = 1*MiB + 50*KiB // four parts and a 50 KiB tail, which the next PATCH's first part takes
		total = 3*MiB + 12345
	)
	for i, alg := range []string{"sha1", "md5", "crc32", "sha256", "sha512"} {
		t.Run(alg, func(t *testing.T) {
			src := makeSource(t, total, uint64(170+i))
			data := src.readRange(t, 0, total)
			uploadURL, post := createUpload(t, px.Endpoint(), total, map[string]string{"filename": "sum-" + alg + ".mp4"})
			mediaID := post.Header.Get("Vod-Media-Id")

			if r := patchChecked(t, uploadURL, 0, data[:first], checksumOf(alg, data[:first])); r.Status != http.StatusNoContent {
				t.Fatalf("first PATCH: %d %s", r.Status, r.Body)
			}
			rest := data[first:]
			sum := checksumOf(alg, rest)
			before := len(s.OSS.Calls())
			px.corruptNext(int64(len(rest)) - 300*KiB) // late: most parts are in OSS by then
			r := patchChecked(t, uploadURL, first, rest, sum)
			if r.Status != 460 {
				t.Fatalf("corrupted PATCH: %d %q, want 460", r.Status, r.Body)
			}
			if !strings.Contains(r.Body, "ERR_CHECKSUM_MISMATCH") {
				t.Errorf("460 body %q lacks ERR_CHECKSUM_MISMATCH", r.Body)
			}
			if off := headOffset(t, uploadURL); off != first {
				t.Fatalf("HEAD after 460: Upload-Offset %d, want %d (unchanged)", off, int64(first))
			}
			wasted := partsUploaded(s.OSS.Calls(), before)
			if len(wasted) < 4 {
				t.Fatalf("only parts %v reached OSS during the corrupted PATCH; the test wants several there before the mismatch is known", wasted)
			}

			if r := patchChecked(t, uploadURL, first, rest, sum); r.Status != http.StatusNoContent {
				t.Fatalf("resent PATCH: %d %s", r.Status, r.Body)
			}
			if off := headOffset(t, uploadURL); off != total {
				t.Fatalf("HEAD after resend: Upload-Offset %d, want %d", off, int64(total))
			}
			s.checkUploaded(t, mediaID, src)
			var completed *osstest.Call
			for _, c := range s.OSS.Calls()[before:] {
				if c.Op == osstest.OpComplete && c.Status == http.StatusOK {
					completed = &c
				}
			}
			if completed == nil {
				t.Fatal("no successful CompleteMultipartUpload")
			}
			for _, n := range wasted {
				if slices.Contains(completed.Parts, n) {
					t.Errorf("Complete listed part %d, sent by the corrupted PATCH (Complete: %v, corrupted PATCH's parts: %v)", n, completed.Parts, wasted)
				}
			}
			t.Logf("%s: the corrupted PATCH sent parts %v; Complete listed %v", alg, wasted, completed.Parts)
		})
	}
	if px.flips != 5 {
		t.Errorf("proxy corrupted %d PATCHes, want 5", px.flips)
	}
	m := metricsText(t, s.GW.URL())
	for _, alg := range []string{"sha1", "md5", "crc32", "sha256", "sha512"} {
		if want := `vodgate_checksum_mismatches_total{algorithm="` + alg + `"} 1`; !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func metricsText(t testing.TB, base string) string {
	t.Helper()
	resp, err := rawHTTP.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChecksumCorruptedWhole: an upload sent whole in one PATCH (which
// would become the object with one PutObject) is corrupted in transit: 460,
// no object, offset 0; the resent PATCH makes the object.
func TestChecksumCorruptedWhole(t *testing.T) {
	s := newStack(t, stackOptions{})
	px := newFlipProxy(t, s.GW.URL())
	src := makeSource(t, 700*KiB, 175)
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, px.Endpoint(), src.Size, map[string]string{"filename": "whole.mp4"})
	px.corruptNext(3)
	if r := patchChecked(t, uploadURL, 0, data, checksumOf("sha256", data)); r.Status != 460 {
		t.Fatalf("corrupted PATCH: %d %q, want 460", r.Status, r.Body)
	}
	if off := headOffset(t, uploadURL); off != 0 {
		t.Fatalf("HEAD after 460: Upload-Offset %d, want 0", off)
	}
	if n := len(s.OSS.Objects()); n != 0 || s.OSS.CallCount(osstest.OpPut) != 0 {
		t.Fatalf("after 460: %d objects, %d PutObject calls; want none", n, s.OSS.CallCount(osstest.OpPut))
	}
	if r := patchChecked(t, uploadURL, 0, data, checksumOf("sha256", data)); r.Status != http.StatusNoContent {
		t.Fatalf("resent PATCH: %d %s", r.Status, r.Body)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}

// TestChecksumBadHeader: an unknown algorithm or a malformed value is 400
// and changes nothing; the PATCH with a right checksum then lands.
func TestChecksumBadHeader(t *testing.T) {
	s := newStack(t, stackOptions{})
	src := makeSource(t, 300*KiB, 171)
	data := src.readRange(t, 0, src.Size)
	uploadURL, post := createUpload(t, s.GW.Endpoint(), src.Size, map[string]string{"filename": "bad.mp4"})
	head := tusDo(t, http.MethodHead, uploadURL, map[string]string{"Origin": "https://app.example.com"}, nil)
	if h := head.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(h, "Tus-Checksum-Algorithm") {
		t.Errorf("CORS Access-Control-Expose-Headers = %q, lacks Tus-Checksum-Algorithm", h)
	}
	for _, v := range []string{"whirlpool " + base64.StdEncoding.EncodeToString(make([]byte, 64)), "sha256", "sha256 %%%", "sha1 AAAA"} {
		r := patchChecked(t, uploadURL, 0, data, v)
		if r.Status != http.StatusBadRequest {
			t.Errorf("Upload-Checksum %q: %d %q, want 400", v, r.Status, r.Body)
		}
		if off := headOffset(t, uploadURL); off != 0 {
			t.Fatalf("after %q: Upload-Offset %d, want 0", v, off)
		}
	}
	if r := patchChecked(t, uploadURL, 0, data, checksumOf("sha256", data)); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH with the right checksum: %d %s", r.Status, r.Body)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}

// TestChecksumTrailer sends the checksum as a chunked trailer
// (checksum-trailer) through the flipping proxy: a corrupted body is 460
// with the offset unchanged, the resent one lands, and so does a
// creation-with-upload POST checked by its header.
func TestChecksumTrailer(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_PART_SIZE": "256KiB"}})
	px := newFlipProxy(t, s.GW.URL())
	const total = 2*MiB + 777
	src := makeSource(t, total, 172)
	data := src.readRange(t, 0, total)
	uploadURL, post := createUpload(t, px.Endpoint(), total, map[string]string{"filename": "trailer.mp4"})

	px.corruptNext(total - 1000)
	if st, body := patchTrailer(t, uploadURL, 0, data, checksumOf("sha256", data)); st != 460 {
		t.Fatalf("corrupted PATCH with a trailer: %d %q, want 460", st, body)
	}
	if off := headOffset(t, uploadURL); off != 0 {
		t.Fatalf("HEAD after 460: Upload-Offset %d, want 0", off)
	}
	if st, body := patchTrailer(t, uploadURL, 0, data, ""); st != http.StatusBadRequest {
		t.Fatalf("PATCH announcing a trailer it does not send: %d %q, want 400", st, body)
	}
	if off := headOffset(t, uploadURL); off != 0 {
		t.Fatalf("HEAD after a missing trailer: Upload-Offset %d, want 0", off)
	}
	if st, body := patchTrailer(t, uploadURL, 0, data, checksumOf("md5", data)); st != http.StatusNoContent {
		t.Fatalf("resent PATCH with a trailer: %d %q", st, body)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)

	// creation-with-upload: the POST's body is checked too. A corrupted
	// one is 460 (tusd sends no Location with an error: the empty upload
	// it made expires) and puts nothing.
	small := makeSource(t, 200*KiB, 173)
	sd := small.readRange(t, 0, small.Size)
	cwu := map[string]string{
		"Upload-Length":   itoa(small.Size),
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "cwu.mp4"}),
		"Content-Type":    "application/offset+octet-stream",
		"Upload-Checksum": checksumOf("crc32", sd),
	}
	puts := s.OSS.CallCount(osstest.OpPut)
	px.corruptNext(100)
	if r := tusDo(t, http.MethodPost, px.Endpoint(), cwu, sd); r.Status != 460 {
		t.Fatalf("corrupted creation-with-upload: %d %q, want 460", r.Status, r.Body)
	}
	if n := s.OSS.CallCount(osstest.OpPut); n != puts {
		t.Fatalf("a corrupted creation-with-upload made %d PutObject calls", n-puts)
	}
	r := tusDo(t, http.MethodPost, px.Endpoint(), cwu, sd)
	if r.Status != http.StatusCreated || r.Header.Get("Upload-Offset") != itoa(small.Size) {
		t.Fatalf("creation-with-upload with a checksum: %d offset %q %s", r.Status, r.Header.Get("Upload-Offset"), r.Body)
	}
	s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), small)
}

// patchTrailer PATCHes data chunked, announcing Trailer: Upload-Checksum
// and sending sum as the trailer once the body is written ("" sends none).
func patchTrailer(t testing.TB, uploadURL string, off int64, data []byte, sum string) (int, string) {
	t.Helper()
	st, body, _ := patchTrailerWith(t, rawHTTP, uploadURL, off, data, sum)
	return st, body
}

// patchTrailerWith is patchTrailer with client c; it also returns the
// response's protocol.
func patchTrailerWith(t testing.TB, c *http.Client, uploadURL string, off int64, data []byte, sum string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, uploadURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", itoa(off))
	req.Trailer = http.Header{"Upload-Checksum": nil}
	req.Body = io.NopCloser(&trailerSetter{r: bytes.NewReader(data), h: req.Trailer, v: sum})
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Proto
}

// TestChecksumTrailerHTTP2 sends the checksum trailer over HTTP/2 (h2c):
// a wrong one is 460 with nothing kept, a right one lands.
func TestChecksumTrailerHTTP2(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_PART_SIZE": "256KiB", "VODGATE_H2C": "true"}})
	const total = 1*MiB + 5
	src := makeSource(t, total, 176)
	data := src.readRange(t, 0, total)
	uploadURL, post := createUpload(t, s.GW.Endpoint(), total, map[string]string{"filename": "h2.mp4"})
	c := protoClient(t, "h2c", nil)
	wrong := checksumOf("sha1", append([]byte("x"), data[1:]...))
	st, body, proto := patchTrailerWith(t, c, uploadURL, 0, data, wrong)
	if proto != "HTTP/2.0" || st != 460 {
		t.Fatalf("PATCH with a wrong trailer over %s: %d %q, want HTTP/2.0 and 460", proto, st, body)
	}
	if off := headOffset(t, uploadURL); off != 0 {
		t.Fatalf("HEAD after 460: Upload-Offset %d, want 0", off)
	}
	if st, body, _ := patchTrailerWith(t, c, uploadURL, 0, data, checksumOf("sha1", data)); st != http.StatusNoContent {
		t.Fatalf("PATCH with the right trailer over h2c: %d %q", st, body)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}

// trailerSetter sets the trailer when the body ends, as a client hashing
// while it sends does.
type trailerSetter struct {
	r io.Reader
	h http.Header
	v string
}

func (s *trailerSetter) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err == io.EOF && s.v != "" {
		s.h.Set("Upload-Checksum", s.v)
	}
	return n, err
}

// TestChecksumInterrupted: a PATCH carrying a checksum whose connection
// ends halfway cannot be verified, so none of its bytes are kept (without
// a checksum, the gateway keeps every byte of an interrupted PATCH).
func TestChecksumInterrupted(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_PART_SIZE": "256KiB"}})
	const total = 2 * MiB
	src := makeSource(t, total, 174)
	data := src.readRange(t, 0, total)
	uploadURL, post := createUpload(t, s.GW.Endpoint(), total, map[string]string{"filename": "cut.mp4"})

	// 1.5 MiB of 2 (six parts' worth), then the connection half-closes.
	writeTruncatedPatch(t, uploadURL, src, 0, total, total*3/4, "Upload-Checksum: "+checksumOf("sha1", data))

	// The gateway answered (or closed) only once the PATCH ended.
	if off := headOffset(t, uploadURL); off != 0 {
		t.Fatalf("HEAD after the cut PATCH: Upload-Offset %d, want 0 (nothing of an unverified body kept)", off)
	}
	if r := patchChecked(t, uploadURL, 0, data, checksumOf("sha1", data)); r.Status != http.StatusNoContent {
		t.Fatalf("resent PATCH: %d %s", r.Status, r.Body)
	}
	s.checkUploaded(t, post.Header.Get("Vod-Media-Id"), src)
}
