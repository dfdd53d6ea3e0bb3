package uploadapi

import (
	"net/http/httptest"
	"slices"
	"testing"
)

func TestParseQuery(t *testing.T) {
	alice, admin := Identity{Owner: "alice"}, Identity{Admin: true}
	for _, tc := range []struct {
		name, query string
		who         Identity
		bad         bool
		owner       string
		all         bool
		limit       int
		states      []string
	}{
		{name: "defaults", query: "", who: alice, owner: "alice", limit: DefaultLimit},
		{name: "limit and states", query: "limit=7&state=uploading,stalled&state=complete", who: alice, owner: "alice", limit: 7,
			states: []string{"uploading", "stalled", "complete"}},
		{name: "own owner is fine", query: "owner=alice", who: alice, owner: "alice", limit: DefaultLimit},
		{name: "another owner needs admin", query: "owner=bob", who: alice, bad: true},
		{name: "admin filters by owner", query: "owner=bob", who: admin, owner: "bob", all: true, limit: DefaultLimit},
		{name: "admin sees all", query: "", who: admin, all: true, limit: DefaultLimit},
		{name: "limit 0", query: "limit=0", who: alice, bad: true},
		{name: "limit 501", query: "limit=501", who: alice, bad: true},
		{name: "limit 500", query: "limit=500", who: alice, owner: "alice", limit: 500},
		{name: "limit not a number", query: "limit=ten", who: alice, bad: true},
		{name: "unknown state", query: "state=done", who: alice, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, msg := parseQuery(httptest.NewRequest("GET", "/uploads?"+tc.query, nil), tc.who)
			if (msg != "") != tc.bad {
				t.Fatalf("msg %q, want bad=%v", msg, tc.bad)
			}
			if tc.bad {
				return
			}
			if q.Owner != tc.owner || q.All != tc.all || q.Limit != tc.limit || !slices.Equal(q.States, tc.states) {
				t.Fatalf("query %+v, want owner %q all %v limit %d states %v", q, tc.owner, tc.all, tc.limit, tc.states)
			}
		})
	}
}
