package tusstore

import (
	"bytes"
	"context"
	"hash/crc64"
	"io"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	r := &record{
		info:  recordInfo{Size: 300, MediaID: "m", MediaType: "video", Bucket: "b", Key: "k/x.mp4", OSSUploadID: "u"},
		cred:  recordCred{AccessKeyID: "STS.a", AccessKeySecret: "s", SecurityToken: "t", Expires: time.Unix(100, 0).UTC()},
		parts: []part{{Number: 1, ETag: `"AA"`, Size: 100, CRC: 1, Start: 0}, {Number: 2, ETag: `"BB"`, Size: 150, CRC: 2, Start: 100}},
		tail:  []byte("tail"),
	}
	m, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	// Part fields out of map order must come back sorted.
	m["p:10"], m["o:10"] = []byte(`"CC" 1 3`), []byte("250")
	got, err := decodeRecord(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.offset() != 251+4 || got.nextPart() != 11 || got.parts[2].Number != 10 || string(got.tail) != "tail" || got.cred != r.cred {
		t.Fatalf("decoded %+v", got)
	}
	if _, err := decodeRecord(map[string][]byte{fieldInfo: []byte("{}"), fieldCred: []byte("{}"), "p:1": []byte("x")}); err == nil {
		t.Fatal("bad part record accepted")
	}
}

func TestRecordCRCCombines(t *testing.T) {
	tab := crc64.MakeTable(crc64.ECMA)
	a, b := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 777)
	r := &record{parts: []part{{Number: 1, Size: 1000, CRC: crc64.Checksum(a, tab)}, {Number: 2, Size: 777, CRC: crc64.Checksum(b, tab)}}}
	if got, want := r.crc(), crc64.Checksum(append(a, b...), tab); got != want {
		t.Fatalf("crc %d, want %d", got, want)
	}
}

func TestPartSize(t *testing.T) {
	s := &Store{cfg: Config{PartSize: 8 << 20}}
	for _, tc := range []struct {
		name     string
		size     int64
		deferred bool
		used     int
		start    int64
		want     int64
	}{
		{"small upload uses configured size", 64 << 20, false, 0, 0, 8 << 20},
		{"deferred uses configured size", 0, true, 0, 0, 8 << 20},
		{"48.8 TB fits in 10,000 parts", MaxObjectSize, false, 0, 0, 4998 << 20},
		{"grows when parts run short", 100 << 30, false, 9990, 0, MaxPartSize},
		{"rest spread over parts left", 1 << 40, false, 5000, 1 << 39, 105 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &upload{s: s, rec: &record{info: recordInfo{Size: tc.size, SizeIsDeferred: tc.deferred}}}
			got := u.partSize(tc.used, tc.start)
			if got != tc.want {
				t.Fatalf("partSize = %d, want %d", got, tc.want)
			}
			if !tc.deferred && got < MaxPartSize && int64(MaxParts-tc.used)*got < tc.size-tc.start {
				t.Fatalf("part size %d cannot hold %d bytes in %d parts", got, tc.size-tc.start, MaxParts-tc.used)
			}
		})
	}
}

func TestPartBuf(t *testing.T) {
	s := &Store{budget: newBudget(4*blockSize, 10*time.Millisecond, false), crcTable: newCRCTable()}
	data := make([]byte, 2*blockSize+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b := s.newPartBuf()
	if err := b.write(context.Background(), data[:10]); err != nil {
		t.Fatal(err)
	}
	n, err := b.readFrom(context.Background(), bytes.NewReader(data[10:]), int64(len(data)))
	if err != nil || n != int64(len(data)-10) {
		t.Fatalf("readFrom = %d, %v", n, err)
	}
	got, _ := io.ReadAll(b.reader())
	if !bytes.Equal(got, data) || !bytes.Equal(b.bytes(), data) || b.crc != crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)) {
		t.Fatal("buffer content or crc differs")
	}
	if s.budget.inUse() != 3*blockSize {
		t.Fatalf("budget in use %d", s.budget.inUse())
	}
	// The budget has one block left: a second buffer of two blocks fails fast.
	b2 := s.newPartBuf()
	if _, err := b2.readFrom(context.Background(), bytes.NewReader(data), 2*blockSize); err != errBusy {
		t.Fatalf("over budget: %v", err)
	}
	b2.release()
	b.release()
	// A body ending on a block boundary holds no empty block.
	b3 := s.newPartBuf()
	if _, err := b3.readFrom(context.Background(), bytes.NewReader(data[:blockSize]), 2*blockSize); err != nil {
		t.Fatal(err)
	}
	if len(b3.blocks) != 1 || s.budget.inUse() != blockSize {
		t.Fatalf("%d blocks, %d bytes charged for one block of data", len(b3.blocks), s.budget.inUse())
	}
	b3.release()
	if s.budget.inUse() != 0 {
		t.Fatalf("budget not returned: %d", s.budget.inUse())
	}
}

func TestRefreshAt(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name      string
		life      time.Duration
		issued    bool
		beforeEnd time.Duration
		want      time.Duration // after issue
	}{
		{"VOD's 3,000 s, default 500 s ahead", 3000 * time.Second, true, 500 * time.Second, 2500 * time.Second},
		{"configured 1,000 s ahead", 3000 * time.Second, true, 1000 * time.Second, 2000 * time.Second},
		{"short-lived: a sixth ahead", 60 * time.Second, true, 500 * time.Second, 50 * time.Second},
		{"issue time unknown (old record)", 60 * time.Second, false, 500 * time.Second, -440 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := recordCred{Expires: t0.Add(tc.life)}
			if tc.issued {
				c.Issued = t0
			}
			if got := c.refreshAt(tc.beforeEnd).Sub(t0); got != tc.want {
				t.Fatalf("refresh at +%s, want +%s", got, tc.want)
			}
		})
	}
}

func TestMaxLength(t *testing.T) {
	for _, tc := range []struct {
		budget, maxSize, want int64
	}{
		{512 << 20, MaxObjectSize, MaxParts * (256 << 20)},
		{64 << 30, MaxObjectSize, MaxObjectSize},
		{512 << 20, 1 << 30, 1 << 30},
	} {
		s := &Store{cfg: Config{BufferBudget: tc.budget, MaxSize: tc.maxSize, PartSize: 8 << 20}}
		got := s.MaxLength()
		if got != tc.want {
			t.Fatalf("budget %d max %d: MaxLength %d, want %d", tc.budget, tc.maxSize, got, tc.want)
		}
		if err := s.checkPartBudget(got); err != nil {
			t.Fatalf("MaxLength %d itself refused: %v", got, err)
		}
		if got < tc.maxSize {
			if err := s.checkPartBudget(got + 10000*blockSize); err == nil {
				t.Fatalf("length past MaxLength accepted")
			}
		}
	}
}
