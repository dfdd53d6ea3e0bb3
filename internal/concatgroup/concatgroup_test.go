package concatgroup

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// TestJoinFollowsTickets: requests that reach Join in the reverse order of
// their tickets still get group numbers in ticket order.
func TestJoinFollowsTickets(t *testing.T) {
	rdb := testenv.Redis(t)
	s := New(rdb, testenv.KeyPrefix(t, rdb), time.Second)
	const n = 4
	tickets := make([]uint64, n)
	base := time.Now().UnixNano()
	for i := range tickets {
		tickets[i] = s.issue(base+int64(i), time.Time{})
	}
	got := make([]int64, n)
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- { // the last ticket joins first
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.WithValue(context.Background(), ticketKey{}, tickets[i])
			seq, err := s.Join(ctx, "g1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			got[i] = seq
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Errorf("ticket %d joined as %d, want %d (all: %v)", i, seq, i+1, got)
		}
	}
}

// TestMiddlewareTickets: a connection's first request uses the ticket
// taken at accept, a later partial creation a new one; a non-partial
// request frees the connection's ticket; a connection that sends nothing
// stops holding Join back after the accept window.
func TestMiddlewareTickets(t *testing.T) {
	rdb := testenv.Redis(t)
	s := New(rdb, testenv.KeyPrefix(t, rdb), 3*time.Second)
	var seen []uint64
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := r.Context().Value(ticketKey{}).(uint64); ok {
			seen = append(seen, v)
		}
	}))
	conn := s.ConnContext(context.Background(), nil)
	post := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/files/", nil).WithContext(conn)
		r.Header.Set("Upload-Concat", "partial")
		return r
	}
	h.ServeHTTP(httptest.NewRecorder(), post())
	h.ServeHTTP(httptest.NewRecorder(), post())
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("tickets %v, want [1 2] (the connection's, then a new one)", seen)
	}
	if len(s.open) != 0 {
		t.Errorf("%d tickets open after the requests ended", len(s.open))
	}
	other := s.ConnContext(context.Background(), nil).Value(connKey{}).(*connTicket)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodOptions, "/files/", nil).
		WithContext(context.WithValue(context.Background(), connKey{}, other)))
	if len(s.open) != 0 {
		t.Errorf("%d tickets still open after every request ended", len(s.open))
	}

	_ = s.ConnContext(context.Background(), nil) // a connection that never sends a request
	late := s.issue(time.Now().UnixNano(), time.Time{})
	start := time.Now()
	if _, err := s.Join(context.WithValue(context.Background(), ticketKey{}, late), "g2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < acceptWindow/2 || d > 2*time.Second {
		t.Errorf("Join behind an idle connection took %v, want about the accept window %v", d, acceptWindow)
	}
}
