package e2e

import (
	"net/http"
	"testing"
)

// TestTwoInstancesAlternate runs two gateway processes on one Redis and one
// simulator behind a round-robin balancer, so consecutive requests of one
// tus-js-client upload land on alternating instances (issue 5).
func TestTwoInstancesAlternate(t *testing.T) {
	s := newStack(t, stackOptions{})
	gw2 := s.startGateway(nil)
	lb := newRoundRobin(t, s.GW, gw2)
	src := makeSource(t, 40*MiB+99, 51)
	res := runTus(t, tusOptions{
		Endpoint:  lb.Endpoint(),
		File:      src.Path,
		ChunkSize: 5 * MiB,
		Metadata:  map[string]string{"filename": "alternate.mp4"},
	})
	checkOffsetsMonotonic(t, res)
	for _, g := range []*gatewayProc{s.GW, gw2} {
		if n := lb.Count(g, http.MethodPatch); n < 3 {
			t.Errorf("%s served %d PATCHes, want the chunks spread over both instances", g.name, n)
		}
	}
	s.checkUploaded(t, res.FinalMediaID, src)
}
