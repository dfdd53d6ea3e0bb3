package e2e

import (
	"testing"
)

// TestTusJSUploads uploads files of the sizes around the OSS limits with
// tus-js-client in Node, in one PATCH, in chunks, and with deferred length.
func TestTusJSUploads(t *testing.T) {
	s := newStack(t, stackOptions{})
	tests := []struct {
		name      string
		size      int64
		chunkSize int64
		deferred  bool
		filename  string
	}{
		{name: "1B", size: 1, filename: "one.mp4"},
		{name: "99KiB", size: 99 * KiB, filename: "small.mov"},
		{name: "100KiB+1", size: 100*KiB + 1, filename: "edge.mp4"},
		{name: "64MiB-one-PATCH", size: 64 * MiB, filename: "big.mp4"},
		{name: "64MiB-5MiB-chunks", size: 64 * MiB, chunkSize: 5 * MiB, filename: "chunks.mkv"},
		{name: "deferred-length", size: 21*MiB + 12345, chunkSize: 5 * MiB, deferred: true, filename: "live.ts"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := makeSource(t, tc.size, uint64(100+i))
			res := runTus(t, tusOptions{
				Endpoint:  s.GW.Endpoint(),
				File:      src.Path,
				ChunkSize: tc.chunkSize,
				Deferred:  tc.deferred,
				Metadata:  map[string]string{"filename": tc.filename, "title": "e2e " + tc.name},
			})
			if res.Bytes != tc.size {
				t.Errorf("client finished at offset %d, want %d", res.Bytes, tc.size)
			}
			if res.PostMediaID == "" {
				t.Errorf("POST response had no Vod-Media-Id; requests: %s", describeRequests(res.Requests))
			}
			if res.FinalMediaID == "" {
				t.Errorf("final PATCH response had no Vod-Media-Id; requests: %s", describeRequests(res.Requests))
			}
			if res.PostMediaID != "" && res.FinalMediaID != "" && res.PostMediaID != res.FinalMediaID {
				t.Errorf("Vod-Media-Id on POST %q != on final PATCH %q", res.PostMediaID, res.FinalMediaID)
			}
			if res.MediaType != "" && res.MediaType != "video" {
				t.Errorf("Vod-Media-Type = %q, want video", res.MediaType)
			}
			checkOffsetsMonotonic(t, res)
			id := res.FinalMediaID
			if id == "" {
				id = res.MediaID
			}
			s.checkUploaded(t, id, src)

			// HEAD after completion still names the media.
			if h := headUpload(t, res.UploadURL); h.MediaID != id || h.Offset != itoa(tc.size) {
				t.Errorf("HEAD after completion: status %d offset %q media %q, want offset %d media %q",
					h.Status, h.Offset, h.MediaID, tc.size, id)
			}
		})
	}
}
