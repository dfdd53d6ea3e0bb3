package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiItem is an item of the upload API, as a client decodes it.
type apiItem struct {
	ID        string            `json:"id"`
	URL       string            `json:"url"`
	MediaID   string            `json:"mediaId"`
	MediaType string            `json:"mediaType"`
	Filename  string            `json:"filename"`
	Title     string            `json:"title"`
	Size      *int64            `json:"size"`
	Offset    int64             `json:"offset"`
	State     string            `json:"state"`
	CreatedAt string            `json:"createdAt"`
	UpdatedAt string            `json:"updatedAt"`
	ExpiresAt *string           `json:"expiresAt"`
	Owner     string            `json:"owner"`
	Metadata  map[string]string `json:"metadata"`
}

type apiPage struct {
	Uploads []apiItem `json:"uploads"`
	Next    *string   `json:"next"`
}

// apiDo sends one upload API request and decodes a JSON answer into out
// (when not nil). It returns the status.
func apiDo(t testing.TB, method, url, tok string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

// listAll pages through a listing with the given page size.
func listAll(t testing.TB, base, tok, query string, limit int) []apiItem {
	t.Helper()
	var all []apiItem
	cursor := ""
	for range 10000 {
		u := fmt.Sprintf("%s?limit=%d%s", base, limit, query)
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		var p apiPage
		if code := apiDo(t, http.MethodGet, u, tok, nil, &p); code != http.StatusOK {
			t.Fatalf("GET %s = %d", u, code)
		}
		all = append(all, p.Uploads...)
		if p.Next == nil {
			return all
		}
		cursor = *p.Next
	}
	t.Fatal("listing never ended")
	return nil
}

func byState(items []apiItem) map[string]int {
	m := map[string]int{}
	for _, it := range items {
		m[it.State]++
	}
	return m
}

// Issue 14: 20 tus-js-client uploads by one owner in parallel are all
// listed with live offsets; 3 cancelled through the API mid-flight stop
// their clients with 404, leave no multipart upload in OSS and no media in
// VOD; clear removes the finished ones; another owner sees none of them;
// an admin token sees both owners.
func TestUploadAPIManyUploads(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_PART_SIZE":                  "256KiB",
	}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	bob := mintToken(t, keyFile, "bob", 10*time.Minute)
	admin := mintToken(t, keyFile, "ops", 10*time.Minute, "-admin")
	api := s.GW.URL() + "/uploads"

	const n = 20
	src := makeSource(t, 1*MiB+77, 1401)
	runs := make([]*tusRun, n)
	for i := range runs {
		runs[i] = startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: 256 << 10,
			Metadata: map[string]string{"filename": fmt.Sprintf("clip-%02d.mp4", i), "fingerprint": fmt.Sprintf("fp-%02d", i)},
			Headers:  authHeader(alice), PauseBeforePatch: []int{2},
		})
	}
	urls := map[string]int{}
	for i, r := range runs {
		ev := r.mustEvent("paused", 2*time.Minute)
		urls[ev.UploadURL] = i
	}

	items := listAll(t, api, alice, "", 7)
	if len(items) != n {
		t.Fatalf("alice lists %d uploads, want %d", len(items), n)
	}
	for _, it := range items {
		if _, ok := urls[it.URL]; !ok {
			t.Errorf("listed url %s is not one of the clients'", it.URL)
		}
		if it.State != "uploading" || it.Offset != 256<<10 || it.Size == nil || *it.Size != src.Size || it.MediaID == "" {
			t.Errorf("item %+v: want uploading at offset %d of %d with a media id", it, 256<<10, src.Size)
		}
		if it.Metadata["fingerprint"] == "" || !strings.HasPrefix(it.Filename, "clip-") || it.ExpiresAt == nil {
			t.Errorf("item %+v lacks its metadata, filename or expiry", it)
		}
	}
	// fingerprint finds one upload (resume on another device).
	var fp apiPage
	apiDo(t, http.MethodGet, api+"?fingerprint=fp-07", alice, nil, &fp)
	if len(fp.Uploads) != 1 || fp.Uploads[0].Metadata["fingerprint"] != "fp-07" {
		t.Fatalf("fingerprint=fp-07 found %+v", fp.Uploads)
	}

	// Bob has a list of his own; he cannot see, get or cancel Alice's.
	if got := listAll(t, api, bob, "", 50); len(got) != 0 {
		t.Fatalf("bob lists %d uploads, want 0", len(got))
	}
	if code := apiDo(t, http.MethodGet, api+"/"+items[0].ID, bob, nil, nil); code != http.StatusNotFound {
		t.Fatalf("bob GET alice's upload = %d, want 404", code)
	}
	if code := apiDo(t, http.MethodDelete, api+"/"+items[0].ID, bob, nil, nil); code != http.StatusNotFound {
		t.Fatalf("bob DELETE alice's upload = %d, want 404", code)
	}
	if code := apiDo(t, http.MethodGet, api, "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("GET without a token = %d, want 401", code)
	}
	bobRes := runTus(t, tusOptions{Endpoint: s.GW.Endpoint(), File: makeSource(t, 1000, 1402).Path,
		Metadata: map[string]string{"filename": "bob.mp4"}, Headers: authHeader(bob)})

	// Cancel 3 mid-flight, deleting their media.
	cancelled := map[string]apiItem{}
	for _, it := range items[:3] {
		if code := apiDo(t, http.MethodDelete, api+"/"+it.ID+"?deleteMedia=true", alice, nil, nil); code != http.StatusNoContent {
			t.Fatalf("DELETE %s = %d, want 204", it.ID, code)
		}
		cancelled[it.URL] = it
	}
	var wg sync.WaitGroup
	results := make([]tusEvent, n)
	for i, r := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); r.resume(); results[i] = r.wait(3 * time.Minute) }()
	}
	wg.Wait()
	for i, res := range results {
		url := res.UploadURL
		if url == "" {
			for u, j := range urls {
				if j == i {
					url = u
				}
			}
		}
		if _, gone := cancelled[url]; gone {
			if res.OK || (res.Status != http.StatusNotFound && res.Status != http.StatusGone) {
				t.Errorf("cancelled upload %s: client ended ok=%v status %d, want 404/410", url, res.OK, res.Status)
			}
			continue
		}
		requireOK(t, res)
		s.checkUploaded(t, res.MediaID, src)
	}
	for _, it := range cancelled {
		if _, ok := s.VOD.Media(it.MediaID); ok {
			t.Errorf("cancelled upload %s: media %s still exists", it.ID, it.MediaID)
		}
	}
	// The finished uploads completed theirs; the cancelled ones were aborted.
	if left := s.OSS.Uploads(); len(left) != 0 {
		t.Errorf("OSS still has %d multipart uploads: %+v", len(left), left)
	}

	all := listAll(t, api, alice, "", 7)
	if st := byState(all); st["complete"] != n-3 || st["cancelled"] != 3 || len(all) != n {
		t.Fatalf("after the uploads: states %v, want %d complete and 3 cancelled", st, n-3)
	}
	adminAll := listAll(t, api, admin, "", 100)
	owners := map[string]int{}
	for _, it := range adminAll {
		owners[it.Owner]++
	}
	if owners["alice"] != n || owners["bob"] != 1 {
		t.Fatalf("admin sees owners %v, want alice:%d bob:1", owners, n)
	}
	if got := listAll(t, api, admin, "&owner=bob", 100); len(got) != 1 || got[0].MediaID != bobRes.MediaID {
		t.Fatalf("admin owner=bob lists %+v", got)
	}

	var cleared struct{ Cleared, Cancelled int }
	if code := apiDo(t, http.MethodPost, api+"/clear", alice, map[string]any{"states": []string{"complete"}}, &cleared); code != http.StatusOK {
		t.Fatalf("clear = %d", code)
	}
	if cleared.Cleared != n-3 || cleared.Cancelled != 0 {
		t.Fatalf("clear complete = %+v, want %d cleared", cleared, n-3)
	}
	if st := byState(listAll(t, api, alice, "", 50)); st["cancelled"] != 3 || len(st) != 1 {
		t.Fatalf("after clear: %v, want only the 3 cancelled", st)
	}
	if got := listAll(t, api, bob, "", 50); len(got) != 1 {
		t.Fatalf("alice's clear touched bob's list: %d items", len(got))
	}
}

// createMany creates n empty-bodied uploads of 1000 bytes as tok's owner,
// 8 at a time, and returns their IDs.
func createMany(t testing.TB, endpoint, tok string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := tusDo(t, http.MethodPost, endpoint, authHeader(tok, map[string]string{
				"Upload-Length": "1000", "Upload-Metadata": encodeMetadata(map[string]string{"filename": fmt.Sprintf("p%04d.mp4", i)}),
			}), nil)
			if r.Status != http.StatusCreated {
				t.Errorf("POST = %d %s", r.Status, r.Body)
				return
			}
			loc := r.Header.Get("Location")
			ids[i] = loc[strings.LastIndex(loc, "/")+1:]
		}()
	}
	wg.Wait()
	return ids
}

// Issue 14: 1,000 uploads listed 7 at a time while 100 more are created,
// 50 cancelled and 50 cancelled and removed from the list: no item appears
// twice, and every item that existed before and was not removed is seen.
func TestUploadAPIPaginationUnderChange(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	api := s.GW.URL() + "/uploads"
	ids := createMany(t, s.GW.Endpoint(), alice, 1000)
	if t.Failed() {
		t.FailNow()
	}

	removed := map[string]bool{}
	for _, id := range ids[500:550] {
		removed[id] = true
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		createMany(t, s.GW.Endpoint(), alice, 100)
	}()
	go func() {
		defer wg.Done()
		<-start
		for i, id := range ids[450:550] {
			if code := apiDo(t, http.MethodDelete, api+"/"+id, alice, nil, nil); code != http.StatusNoContent {
				t.Errorf("cancel %s = %d", id, code)
			}
			if i >= 50 { // cancelled, then removed from the list
				if code := apiDo(t, http.MethodDelete, api+"/"+id, alice, nil, nil); code != http.StatusNoContent {
					t.Errorf("remove %s = %d", id, code)
				}
			}
		}
	}()
	close(start)
	seen := map[string]int{}
	for _, it := range listAll(t, api, alice, "", 7) {
		seen[it.ID]++
	}
	wg.Wait()
	for id, c := range seen {
		if c > 1 {
			t.Errorf("upload %s listed %d times", id, c)
		}
	}
	missed := 0
	for _, id := range ids {
		if !removed[id] && seen[id] == 0 {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d surviving uploads were never listed", missed)
	}
	final := listAll(t, api, alice, "", 500)
	if st := byState(final); len(final) != 1050 || st["cancelled"] != 50 {
		t.Errorf("after the changes: %d listed (%v), want 1050 with 50 cancelled", len(final), st)
	}
}
