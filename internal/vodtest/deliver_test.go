package vodtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func decodeBase64JSON(s string) (map[string]any, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

func simRequest(t *testing.T, e *env, method, route, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+e.vod.Endpoint()+"/_sim/"+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("decode %s: %v", route, err)
		}
	}
	return resp.StatusCode
}

func TestCallbackRetries(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name      string
		statuses  []int // the receiver's answers, then 200
		dead      bool  // the callback URL refuses connections
		want      []int // recorded status per attempt (0: network error)
		delivered bool
	}{
		{"200 at once", nil, false, []int{200}, true},
		{"500 then 200", []int{500}, false, []int{500, 200}, true},
		{"two 503s then 200", []int{503, 503}, false, []int{503, 503, 200}, true},
		{"204 is not success", []int{204, 204, 204}, false, []int{204, 204, 204}, false},
		{"gives up after three", []int{500, 502, 503, 200}, false, []int{500, 502, 503}, false},
		{"connection refused", nil, true, []int{0, 0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, tc.statuses...)
			e := callbackEnv(t, rcv, func(c *Config) {
				if tc.dead {
					c.CallbackURL = closed.URL + "/cb"
				}
			})
			u := uploadImage(t, e, "")
			waitDeliveries(t, e, 1)
			time.Sleep(30 * time.Millisecond) // nothing more may follow
			ds := e.vod.Deliveries()
			if len(ds) != len(tc.want) {
				t.Fatalf("deliveries %+v, want statuses %v", ds, tc.want)
			}
			for i, d := range ds {
				last := i == len(ds)-1
				if d.Attempt != i+1 || d.Status != tc.want[i] || d.Final != last || d.MediaID != u.id ||
					d.Delivered != (last && tc.delivered) || (d.Status == 0) != (d.Error != "") {
					t.Errorf("attempt %d: %+v", i+1, d)
				}
			}
			if n := len(rcv.requests()); !tc.dead && n != len(tc.want) {
				t.Errorf("receiver got %d requests", n)
			}
			for _, r := range rcv.requests() {
				if string(r.Raw) != ds[0].Body {
					t.Errorf("retry body %s differs from %s", r.Raw, ds[0].Body)
				}
			}
		})
	}
}

func TestCallbackFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults CallbackFaults
		json   string
		n      int // finished deliveries to wait for
		check  func(t *testing.T, e *env, got []received, ds []Delivery, elapsed time.Duration)
	}{
		{"delay", CallbackFaults{Delay: 150 * time.Millisecond}, `{"delayMs":150}`, 1,
			func(t *testing.T, e *env, got []received, _ []Delivery, elapsed time.Duration) {
				if len(got) != 1 || elapsed < 150*time.Millisecond {
					t.Errorf("received %d after %v, want 1 after >= 150ms", len(got), elapsed)
				}
			}},
		{"duplicate", CallbackFaults{Duplicate: true}, `{"duplicate":true}`, 2,
			func(t *testing.T, e *env, got []received, ds []Delivery, _ time.Duration) {
				if len(got) != 2 || string(got[0].Raw) != string(got[1].Raw) || len(ds) != 2 || ds[0].Copy+ds[1].Copy != 3 {
					t.Errorf("received %d, deliveries %+v", len(got), ds)
				}
				for _, r := range got {
					if err := checkSigned(r, testCallbackKey, e.clock.Now(), time.Minute); err != nil {
						t.Error(err)
					}
				}
			}},
		{"drop", CallbackFaults{Drop: true}, `{"drop":true}`, 1,
			func(t *testing.T, e *env, got []received, ds []Delivery, _ time.Duration) {
				time.Sleep(30 * time.Millisecond)
				if len(got) != 0 || len(ds) != 1 || !ds[0].Dropped || !ds[0].Final || ds[0].Delivered || ds[0].Attempt != 0 ||
					ds[0].EventType != EventFileUploadComplete {
					t.Errorf("received %d, deliveries %+v", len(got), ds)
				}
			}},
		{"bad signature", CallbackFaults{BadSignature: true}, `{"badSignature":true}`, 1,
			func(t *testing.T, e *env, got []received, _ []Delivery, _ time.Duration) {
				if len(got) != 1 {
					t.Fatalf("received %d", len(got))
				}
				if err := checkSigned(got[0], testCallbackKey, e.clock.Now(), time.Minute); err == nil ||
					!strings.Contains(err.Error(), "X-VOD-SIGNATURE") {
					t.Errorf("signature check: %v, want a signature mismatch", err)
				}
			}},
		{"stale timestamp", CallbackFaults{StaleBy: DefaultCallbackStale}, `{"stale":true}`, 1,
			func(t *testing.T, e *env, got []received, ds []Delivery, _ time.Duration) {
				if len(got) != 1 {
					t.Fatalf("received %d", len(got))
				}
				want := strconv.FormatInt(e.clock.Now().Add(-10*time.Minute).Unix(), 10)
				if ts := got[0].Header.Get("X-VOD-TIMESTAMP"); ts != want || ds[0].Timestamp != want {
					t.Errorf("X-VOD-TIMESTAMP %s (recorded %s), want %s", ts, ds[0].Timestamp, want)
				}
				if err := checkSigned(got[0], testCallbackKey, e.clock.Now(), 5*time.Minute); err == nil ||
					!strings.Contains(err.Error(), "old") {
					t.Errorf("5-minute freshness check: %v, want too old", err)
				}
				if err := checkSigned(got[0], testCallbackKey, e.clock.Now(), 11*time.Minute); err != nil {
					t.Errorf("the stale request is still correctly signed: %v", err)
				}
			}},
	} {
		for _, via := range []string{"method", "http"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				rcv := newReceiver(t)
				e := callbackEnv(t, rcv, nil)
				if via == "method" {
					e.vod.SetCallbackFaults(tc.faults)
				} else if st := simRequest(t, e, http.MethodPost, "callback-faults", tc.json, nil); st != 200 {
					t.Fatalf("POST /_sim/callback-faults: %d", st)
				}
				if got := e.vod.CallbackFaults(); got != tc.faults {
					t.Fatalf("CallbackFaults %+v, want %+v", got, tc.faults)
				}
				start := time.Now()
				uploadVideo(t, e, "")
				ds := waitDeliveries(t, e, tc.n)
				tc.check(t, e, rcv.requests(), ds, time.Since(start))

				// Clearing the faults makes the next event normal.
				e.vod.SetCallbackFaults(CallbackFaults{})
				before := len(rcv.requests())
				uploadAttached(t, e, "")
				waitDeliveries(t, e, tc.n+1)
				got := rcv.requests()
				if len(got) != before+1 {
					t.Fatalf("after clearing: received %d, want %d", len(got), before+1)
				}
				if err := checkSigned(got[len(got)-1], testCallbackKey, e.clock.Now(), time.Minute); err != nil {
					t.Errorf("after clearing: %v", err)
				}
			})
		}
	}
}

func TestCallbackUnsignedWithoutKey(t *testing.T) {
	rcv := newReceiver(t)
	e := callbackEnv(t, rcv, func(c *Config) { c.CallbackAuthKey = "" })
	e.vod.SetCallbackFaults(CallbackFaults{BadSignature: true, StaleBy: time.Hour})
	uploadImage(t, e, "")
	ds := waitDeliveries(t, e, 1)
	got := rcv.requests()
	if len(got) != 1 || got[0].Header.Get("X-VOD-TIMESTAMP") != "" || got[0].Header.Get("X-VOD-SIGNATURE") != "" ||
		ds[0].Timestamp != "" {
		t.Errorf("unsigned callback: headers %v, delivery %+v", got[0].Header, ds[0])
	}
}

func TestCallbackSimHTTPAPI(t *testing.T) {
	rcv := newReceiver(t, 500)
	e := callbackEnv(t, rcv, nil)
	u := uploadVideo(t, e, "")
	waitDeliveries(t, e, 1)
	var ds []Delivery
	if st := simRequest(t, e, http.MethodGet, "callbacks", "", &ds); st != 200 || len(ds) != 2 ||
		ds[0].Status != 500 || !ds[1].Delivered || ds[1].MediaID != u.id || ds[1].EventType != EventFileUploadComplete {
		t.Fatalf("GET /_sim/callbacks: %d %+v", st, ds)
	}
	for _, tc := range []struct {
		body string
		want int
		get  callbackFaultsJSON
	}{
		{`{"delayMs":5,"duplicate":true,"drop":true,"badSignature":true,"staleSeconds":90}`, 200,
			callbackFaultsJSON{DelayMS: 5, Duplicate: true, Drop: true, BadSignature: true, Stale: true, StaleSeconds: 90}},
		{`{"stale":true}`, 200, callbackFaultsJSON{Stale: true, StaleSeconds: 600}},
		{`{"delayMs":-1}`, 400, callbackFaultsJSON{Stale: true, StaleSeconds: 600}},
		{`not json`, 400, callbackFaultsJSON{Stale: true, StaleSeconds: 600}},
		{`{}`, 200, callbackFaultsJSON{}},
	} {
		if st := simRequest(t, e, http.MethodPost, "callback-faults", tc.body, nil); st != tc.want {
			t.Errorf("POST /_sim/callback-faults %s: %d, want %d", tc.body, st, tc.want)
		}
		var got callbackFaultsJSON
		if st := simRequest(t, e, http.MethodGet, "callback-faults", "", &got); st != 200 || got != tc.get {
			t.Errorf("after %s: GET /_sim/callback-faults %d %+v, want %+v", tc.body, st, got, tc.get)
		}
	}
}

func TestWaitDeliveriesHonoursContext(t *testing.T) {
	e := callbackEnv(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.vod.WaitDeliveries(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitDeliveries: %v, want DeadlineExceeded", err)
	}
}

func TestCloseStopsCallbacksInFlight(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	e := callbackEnv(t, nil, func(c *Config) { c.CallbackURL = hang.URL })
	e.vod.SetCallbackFaults(CallbackFaults{Duplicate: true})
	uploadImage(t, e, "")
	done := make(chan struct{})
	go func() {
		e.vod.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return while a callback was in flight")
	}
}
