package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path"
	"strconv"
	"testing"
	"time"
)

// TestSIGKILLWithPartsInFlightOutOfOrder kills the gateway while parts 3,
// 4 and 5 of an upload are in flight to OSS at once and acknowledged out of
// order: OSS holds part 3 (received, not acknowledged) while it
// acknowledges 4 and 5, which the gateway records. After the restart, HEAD
// must report exactly the prefix OSS acknowledged and the record holds
// (parts 1 and 2), not the parts beyond the gap; the client resumes from
// there, and the finished object has the source's bytes, assembled from
// the prefix and the resumed parts only (4 and 5 never listed).
func TestSIGKILLWithPartsInFlightOutOfOrder(t *testing.T) {
	const part = 1 * MiB
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_PART_SIZE":          "1MiB",
		"VODGATE_OSS_PARALLEL_PARTS": "3",
	}})
	if s.rdb == nil {
		t.Fatal("stack has no Redis client")
	}
	src := makeSource(t, 8*MiB+12345, 53)
	data, err := os.ReadFile(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	release := s.OSS.HoldPart(3)
	t.Cleanup(release)

	up, cr := createUpload(t, s.GW.Endpoint(), src.Size, map[string]string{"filename": "inflight.mp4"})
	mediaID := cr.Header.Get("Vod-Media-Id")
	key := s.prefix + ":{" + path.Base(up) + "}:upload"

	// One PATCH of parts 1 to 5: it cannot end while part 3 is held.
	patchDone := make(chan error, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPatch, up, bytes.NewReader(data[:5*part]))
		if err != nil {
			patchDone <- err
			return
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		res, err := rawHTTP.Do(req)
		if err == nil {
			res.Body.Close()
		}
		patchDone <- err
	}()

	ctx := context.Background()
	var fields map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		fields, err = s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		_, p1 := fields["p:1"]
		_, p2 := fields["p:2"]
		_, p4 := fields["p:4"]
		_, p5 := fields["p:5"]
		if p1 && p2 && p4 && p5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts 1, 2, 4 and 5 not all recorded while part 3 is held: record fields %v", fieldNames(fields))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := fields["p:3"]; ok {
		t.Fatalf("part 3 recorded although OSS holds it")
	}
	var info struct {
		Durable int64 `json:"durable"`
	}
	if err := json.Unmarshal([]byte(fields["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if info.Durable != 2*part {
		t.Errorf("record's durable offset with parts 4 and 5 beyond the gap = %d, want %d", info.Durable, 2*part)
	}
	select {
	case err := <-patchDone:
		t.Fatalf("PATCH ended (%v) while part 3 was held", err)
	default:
	}
	t.Logf("parts 1, 2, 4, 5 recorded, 3 in flight; SIGKILL gateway pid %d", s.GW.PID())
	s.GW.Kill()
	release()
	<-patchDone
	s.GW.Start()

	if off := headOffset(t, up); off != 2*part {
		t.Fatalf("HEAD after restart: Upload-Offset %d, want %d (parts 1 and 2; 4 and 5 lie beyond the gap)", off, 2*part)
	}
	r := patchUpload(t, up, 2*part, data[2*part:])
	if r.Status != http.StatusNoContent || r.Header.Get("Upload-Offset") != strconv.FormatInt(src.Size, 10) {
		t.Fatalf("resumed PATCH: %d, Upload-Offset %q: %s", r.Status, r.Header.Get("Upload-Offset"), r.Body)
	}
	fields, err = s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"p:4", "o:4", "p:5", "o:5"} {
		if _, ok := fields[f]; ok {
			t.Errorf("record still holds %s, beyond the gap, after the next part write", f)
		}
	}
	s.checkUploaded(t, mediaID, src)
	m, _ := s.VOD.Media(mediaID)
	obj, _ := s.OSS.Object(m.Bucket, m.Key)
	// Parts 1 and 2, then the rest in 1 MiB parts from offset 2 MiB.
	if want := 2 + int((src.Size-2*part+part-1)/part); obj.Parts != want {
		t.Errorf("object assembled from %d parts, want %d (none beyond the gap)", obj.Parts, want)
	}
}

func fieldNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
