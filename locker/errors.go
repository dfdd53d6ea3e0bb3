package locker

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

var (
	// ErrUnavailable is wrapped by every error that reports Redis as
	// temporarily unreachable (connection refused or reset, timeouts,
	// LOADING, READONLY, CLUSTERDOWN, ...) or the Locker as closed. Such an
	// error is an [*UnavailableError]; retrying later may succeed.
	ErrUnavailable = errors.New("locker: redis unavailable")

	// ErrClosed is wrapped (together with ErrUnavailable) by Lock after
	// [Locker.Close].
	ErrClosed = errors.New("locker: closed")

	// ErrLockLost is returned (wrapped) by Unlock when the lock had already
	// been lost before Unlock: its TTL ran out without a successful renewal,
	// or another owner holds the key. The requestUnlock callback of that lock
	// was called when the loss was detected, and [Locker.Fence] stopped
	// reporting its token. tusd ignores Unlock errors; the error is for
	// callers that care.
	ErrLockLost = errors.New("locker: lock lost before unlock")

	// ErrInvalidConfig is wrapped by [Config.Validate].
	ErrInvalidConfig = errors.New("locker: invalid config")
)

// UnavailableError reports that Redis could not be used for a lock operation.
// It unwraps to both [ErrUnavailable] and the underlying error, reports
// Temporary() == true, and converts (via errors.As) to a [handler.Error] with
// status 503 and a Retry-After header, so that tusd answers a request whose
// lock could not be taken with 503 instead of 500.
type UnavailableError struct {
	Op         string        // "acquire", "renew" or "release"
	ID         string        // upload ID
	RetryAfter time.Duration // suggested client back-off; at least 1s
	Err        error         // the Redis or client error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return "locker: " + e.Op + " " + e.ID + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns [ErrUnavailable] and the underlying error.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Temporary reports true: the operation may succeed when retried later.
func (e *UnavailableError) Temporary() bool { return true }

// As lets errors.As(err, *handler.Error) produce the tus response for this
// error: 503 ERR_LOCK_UNAVAILABLE with Retry-After.
func (e *UnavailableError) As(target any) bool {
	t, ok := target.(*handler.Error)
	if !ok {
		return false
	}
	*t = handler.NewError("ERR_LOCK_UNAVAILABLE", "upload lock service temporarily unavailable, retry later", 503)
	secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	t.HTTPResponse.Header["Retry-After"] = strconv.FormatInt(secs, 10)
	return true
}

// temporary reports whether err (from go-redis) means that Redis is
// unreachable or cannot serve writes right now, as opposed to a programming or
// data error (WRONGTYPE, a Lua error, NOPERM), which is not worth a retry.
func temporary(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		// Network errors, timeouts, pool timeouts, closed client, EOF: not a
		// reply from Redis, so Redis (or the way to it) is the problem.
		return true
	}
	if redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) {
		return true
	}
	// MOVED and ASK reach us when the Cluster client ran out of redirects
	// while slots move (failover, resharding).
	for _, p := range []string{"BUSY", "NOREPLICAS", "MISCONF", "OOM", "MOVED ", "ASK "} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}

// opError wraps err from a Redis operation on the lock of id, as an
// *UnavailableError if temporary, else as a plain wrapped error.
func (l *Locker) opError(op, id string, err error) error {
	if temporary(err) {
		return &UnavailableError{Op: op, ID: id, RetryAfter: l.cfg.TTL, Err: err}
	}
	return fmt.Errorf("locker: %s %s: %w", op, id, err)
}
