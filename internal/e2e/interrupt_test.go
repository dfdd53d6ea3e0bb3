package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestInterruptedPatchKeepsBytes cuts a single PATCH after 23 MiB (the client
// half-closes its connection, so every byte it wrote reaches the gateway),
// checks that HEAD kept all of them rather than rolling back to a part
// boundary (16 MiB with 8 MiB parts), then resumes with a new tus-js-client
// Upload object from the upload URL and checks the object.
func TestInterruptedPatchKeepsBytes(t *testing.T) {
	s := newStack(t, stackOptions{})
	const (
		total = 40 * MiB
		cut   = 23 * MiB
	)
	src := makeSource(t, total, 23)
	uploadURL, post := createUpload(t, s.GW.Endpoint(), total, map[string]string{"filename": "cut.mp4"})
	mediaID := post.Header.Get("Vod-Media-Id")

	resp := writeTruncatedPatch(t, uploadURL, src, 0, total, cut)
	t.Logf("gateway answered the cut PATCH with: %q", firstLine(resp))

	off := headOffset(t, uploadURL)
	t.Logf("HEAD after the cut: Upload-Offset %d (%.2f MiB)", off, float64(off)/MiB)
	switch {
	case off == 16*MiB:
		t.Errorf("Upload-Offset = 16 MiB: rolled back to a part boundary; want %d (every byte read)", int64(cut))
	case off > cut:
		t.Errorf("Upload-Offset = %d, more than the %d bytes sent", off, int64(cut))
	case off < cut:
		t.Errorf("Upload-Offset = %d, want %d: %d bytes read before the cut were dropped", off, int64(cut), cut-off)
	}
	if again := headOffset(t, uploadURL); again != off {
		t.Errorf("second HEAD: Upload-Offset %d, first said %d", again, off)
	}

	// Resume with a new Upload object: tus-js-client HEADs, then PATCHes the rest.
	res := runTus(t, tusOptions{
		UploadURL: uploadURL,
		File:      src.Path,
		Metadata:  map[string]string{"filename": "cut.mp4"},
	})
	if len(res.Requests) == 0 || res.Requests[0].Method != http.MethodHead {
		t.Errorf("resume did not start with HEAD: %s", describeRequests(res.Requests))
	} else if o := res.Requests[0].Offset; o == nil || *o != off {
		t.Errorf("resume HEAD offset = %v, want %d", o, off)
	}
	checkOffsetsMonotonic(t, res)
	if res.FinalMediaID != mediaID {
		t.Errorf("final Vod-Media-Id %q, POST said %q", res.FinalMediaID, mediaID)
	}
	s.checkUploaded(t, mediaID, src)
}

// writeTruncatedPatch sends a PATCH at off declaring Content-Length declared
// over a raw connection, with the extra header lines ("Name: value"),
// writes only send bytes of src from off, half-closes the connection, and
// returns whatever the gateway answered.
func writeTruncatedPatch(t *testing.T, uploadURL string, src source, off, declared, send int64, header ...string) string {
	t.Helper()
	u, err := url.Parse(uploadURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	bw := bufio.NewWriterSize(conn, 1<<20)
	fmt.Fprintf(bw, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n",
		u.RequestURI(), u.Host, off, declared-off)
	for _, h := range header {
		fmt.Fprintf(bw, "%s\r\n", h)
	}
	fmt.Fprint(bw, "\r\n")
	f, err := os.Open(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(bw, io.NewSectionReader(f, off, send)); err != nil {
		t.Fatalf("write %d bytes of PATCH body: %v", send, err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatalf("flush PATCH body: %v", err)
	}
	// FIN after the bytes: the gateway reads all of them, then EOF.
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-close: %v", err)
	}
	b, _ := io.ReadAll(io.LimitReader(conn, 64<<10))
	return string(b)
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
