package main

import (
	"context"
	"os"
	"syscall"

	"github.com/vodgate/vodgate/tusstore"
)

// failpointEnv names a crash the end-to-end tests inject to prove that no
// event is lost to a gateway dying at the worst moment. It is not a
// configuration key: only tests set it. Values:
//
//	kill-before-completed-event  SIGKILL the process when an upload's finish
//	                             is recorded, before its upload.completed
//	                             event is written
const failpointEnv = "VODGATE_TEST_FAILPOINT"

// withFailpoint wraps j as the failpoint in env asks, if any.
func withFailpoint(j tusstore.Journal, env Env) tusstore.Journal {
	if v, _ := env(failpointEnv); v == "kill-before-completed-event" {
		return killBeforeCompleted{j}
	}
	return j
}

type killBeforeCompleted struct{ tusstore.Journal }

func (k killBeforeCompleted) Ended(ctx context.Context, e tusstore.End) error {
	if e.State == tusstore.StateComplete {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return k.Journal.Ended(ctx, e)
}
