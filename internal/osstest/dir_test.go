package osstest

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "osstest-*", "*.blob"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDirMode keeps bytes in files: a multipart object is its part files,
// Delete and Abort remove files, Close removes the directory.
func TestDirMode(t *testing.T) {
	dir := t.TempDir()
	s := NewServer(Config{Dir: dir, MinPartSize: 1000})
	defer s.Close()
	b := grantBucket(t, s, stsGrant(s, 1), authModes()[1])

	imur, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var parts []oss.UploadPart
	var whole []byte
	for i, n := range []int{5000, 3000, 17} {
		d := randBytes(n, uint64(i))
		whole = append(whole, d...)
		p, err := uploadPart(b, imur, d, i+1)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if _, err := uploadPart(b, imur, randBytes(3000, 1), 2); err != nil { // replace part 2 …
		t.Fatal(err)
	}
	p2, err := uploadPart(b, imur, whole[5000:8000], 2) // … and back
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = p2
	if got := len(blobFiles(t, dir)); got != 3 {
		t.Errorf("%d blob files for 3 parts (replaced parts must be removed)", got)
	}
	if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
		t.Fatal(err)
	}
	checkObject(t, s, b, whole, 3)

	imur2, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uploadPart(b, imur2, whole, 1); err != nil {
		t.Fatal(err)
	}
	if n := s.AbortUploads(testBucket, testKey); n != 1 {
		t.Errorf("AbortUploads = %d", n)
	}
	if err := b.DeleteObject(testKey); err != nil {
		t.Fatal(err)
	}
	if got := blobFiles(t, dir); len(got) != 0 {
		t.Errorf("files left after delete and abort: %v", got)
	}
	if err := b.PutObject(testKey, bytes.NewReader(whole)); err != nil {
		t.Fatal(err)
	}
	checkObject(t, s, b, whole, 0)
	s.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("Close left %v in Dir", left)
	}
}

// TestConcurrentParts uploads many parts in parallel, re-uploading some,
// while listing; run with -race.
func TestConcurrentParts(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		name := "memory"
		if dir != "" {
			name = "dir"
		}
		t.Run(name, func(t *testing.T) {
			s := newTestServer(t, Config{Dir: dir, MinPartSize: 1})
			b := grantBucket(t, s, stsGrant(s, 1), authModes()[0])
			imur, err := b.InitiateMultipartUpload(testKey)
			if err != nil {
				t.Fatal(err)
			}
			const n = 40
			data := make([][]byte, n)
			parts := make([]oss.UploadPart, n)
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range n {
				data[i] = randBytes(10_000+i, uint64(i))
				wg.Go(func() {
					for range 2 { // the second upload replaces the first
						p, err := uploadPart(b, imur, data[i], i+1)
						if err != nil {
							errs <- err
							return
						}
						parts[i] = p
					}
				})
				if i%10 == 0 {
					wg.Go(func() {
						if _, err := b.ListUploadedParts(imur); err != nil {
							errs <- err
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
				t.Fatal(err)
			}
			checkObject(t, s, b, bytes.Join(data, nil), n)
		})
	}
}
