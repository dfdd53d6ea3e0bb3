package e2e

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 16: VOD's account quota is shared by all instances. 300 creations
// in one burst through two gateways with a 40 per second bucket: VOD sees
// at most 40 CreateUploadVideo calls in every second, and every creation
// answered 201 has its media.
func TestVODQuotaSharedByInstances(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_VOD_QUOTA_CREATE_QPS":       "40",
		"VODGATE_VOD_QUOTA_WAIT":             "5s",
	}})
	gw2 := s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)

	const n = 300
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ep := s.GW.Endpoint()
			if i%2 == 1 {
				ep = gw2.Endpoint()
			}
			r := tusDo(t, http.MethodPost, ep, authHeader(alice, map[string]string{
				"Upload-Length": "1000", "Upload-Metadata": encodeMetadata(map[string]string{"filename": "q.mp4"})}), nil)
			switch r.Status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusServiceUnavailable:
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				refused.Add(1)
			default:
				t.Errorf("POST = %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	perSecond := map[int64]int{}
	for _, c := range s.VOD.Calls() {
		if c.Action == "CreateUploadVideo" {
			perSecond[c.Time.Unix()]++
			if c.Status != http.StatusOK {
				t.Errorf("VOD answered a creation %d %s", c.Status, c.Code)
			}
		}
	}
	for sec, k := range perSecond {
		if k > 40 {
			t.Errorf("VOD saw %d creations in second %d, want at most 40", k, sec)
		}
	}
	if got := int64(len(s.VOD.AllMedia())); got != created.Load() {
		t.Errorf("%d creations answered 201, %d media in VOD", created.Load(), got)
	}
	if created.Load() < n*9/10 {
		t.Errorf("only %d of %d creations succeeded (%d refused)", created.Load(), n, refused.Load())
	}
	t.Logf("%d created, %d refused with 503, over %d seconds", created.Load(), refused.Load(), len(perSecond))
}
