package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Process modes: fresh runs the case on a process that served nothing
// before; warm on one that has just served one unmeasured round of the
// same case (its caches, pools and page tables warm, as in a long-running
// server).
const (
	modeFresh = "fresh"
	modeWarm  = "warm"
)

// modesFor returns the process modes case c runs in.
func (o *options) modesFor(c benchCase) []string {
	if slices.Contains(o.warm, c.ID) {
		return []string{modeFresh, modeWarm}
	}
	return []string{modeFresh}
}

// serversFor returns the servers case c runs against in mode: the plain
// PUT ceiling for the one-PATCH case only; the WAN cases against the
// servers that talk to the sink (the gateway and its variants, tusd-s3);
// the warm mode against no ceiling (it has no state to warm).
func (o *options) serversFor(c benchCase, mode string) []string {
	var out []string
	for _, srv := range o.servers {
		kind := srv
		if _, ok := o.variants[srv]; ok {
			kind = srvGateway
		}
		switch {
		case kind == srvCeilingPut && !(c.File && c.Chunk == 0):
		case c.WAN && kind != srvGateway && kind != srvTusdS3:
		case mode == modeWarm && (kind == srvCeiling || kind == srvCeilingPut):
		default:
			out = append(out, srv)
		}
	}
	return out
}

// warmUp runs one unmeasured round of c against s, then resets the peak
// RSS of its processes (VmHWM, through /proc/PID/clear_refs) so that the
// measured round reports its own peak.
func (o *options) warmUp(env *backend, s *server, c benchCase, srv string) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout(c))
	defer cancel()
	var w row
	var err error
	if c.Create {
		err = o.driveCreate(ctx, s, c, &w)
	} else {
		err = o.driveUploads(ctx, s, c, srv, &w)
	}
	if err == nil && w.Failures > 0 {
		err = fmt.Errorf("%d failures: %s", w.Failures, strings.Join(w.Errors, "; "))
	}
	if err != nil {
		return fmt.Errorf("warm-up round: %w", err)
	}
	for _, pid := range s.pids() {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			return fmt.Errorf("warm-up: reset peak RSS: %w", err)
		}
	}
	return nil
}
