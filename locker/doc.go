// Package locker provides a [handler.Locker] for tusd whose locks live in
// Redis, so that several gateway instances sharing one Redis (standalone,
// Sentinel or Cluster, through go-redis's UniversalClient) never work on the
// same upload at once. It adds what tusd's in-process memorylocker cannot:
// exclusion across processes, a bound on how long a dead holder blocks an
// upload, and fencing tokens.
//
// # Keys
//
// With the default prefix "vodgate", an upload <id> uses:
//
//	vodgate:{<id>}:lock       string: owner value of the current holder, PX TTL
//	vodgate:{<id>}:fence      integer: fencing token, INCR'd on every acquisition
//	vodgate:release:{<id>}    pub/sub channel: "request" and "released" messages
//	                          (a shard channel, in the same slot, on a Cluster)
//
// The hash tag {<id>} keeps the keys of an upload (and the records of
// internal/redisstate) in one Cluster slot, so the Lua scripts below may use
// them together.
//
// # Locking
//
// Lock runs one Lua script: SET lock <owner> NX PX <TTL>, and on success
// INCR fence, returning the new token; the owner is a random string per
// acquisition. While held, the lock is renewed every RenewEvery (TTL/3 by
// default) with a compare-and-PEXPIRE script, and Unlock deletes it with a
// compare-and-delete script, so a process never extends or deletes a lock
// that another owner holds. Lock honours its context as memorylocker does:
// it always makes one attempt, and returns [handler.ErrLockTimeout] without
// the lock once ctx is done. The context bounds only the wait; the lock stays
// held, and renewed, until Unlock.
//
// # Lock stealing
//
// tusd lets a new request for an upload take over from the request holding it
// (a client that retries while its previous PATCH still streams): the waiter
// asks, the holder's requestUnlock callback cancels the holding request, tusd
// calls Unlock, and the waiter gets the lock. Across processes the request is
// a "request" message on the upload's release channel, published by the
// acquisition script when it finds the lock held, and again every 500ms while
// the waiter waits. Each Locker keeps one PSUBSCRIBE on vodgate:release:* and
// calls requestUnlock of the matching lock it holds. Unlock publishes
// "released", which makes waiters in every process retry at once; otherwise
// they retry every RetryEvery (50ms). A hand-over thus takes a few Redis round
// trips, well under a second. Pub/sub is best effort: a message lost during a
// reconnect only delays the hand-over until the next re-publish or retry.
//
// On a Redis Cluster the scripts SPUBLISH instead (sharded pub/sub, Redis 7):
// the release channel carries the upload's hash tag, so only the master of
// the upload's slot delivers it, without the cluster-bus broadcast of
// PUBLISH (which measured up to ~40ms late). A Locker then SSUBSCRIBEs to
// the channel of each upload it waits for or holds (and for 10s after), on
// that slot's master, and subscribes again when the slot moves (resharding)
// or its master fails over. See shard.go.
//
// # Dead holders and TTL
//
// A holder that dies (SIGKILL, power loss, network partition) stops renewing,
// so its key expires at most TTL (default 5s) after its last renewal, and a
// waiter gets the lock at most TTL + RetryEvery after the death. A holder
// that cannot renew (Redis unreachable, or the process paused) considers its
// lock lost once TTL has passed since the start of its last successful
// renewal; a holder whose renewal finds the key gone or owned by someone else
// considers it lost at once. Either way it calls requestUnlock, so that tusd
// stops the request, and [Locker.Fence] stops reporting the token. Unlock of
// a lost lock returns an error wrapping [ErrLockLost] (tusd ignores Unlock
// errors).
//
// # Fencing
//
// Losing a lock cannot interrupt code that is already running: a holder
// frozen past its TTL (GC pause, SIGSTOP) may resume and write, while a new
// holder already writes the same upload. Every acquisition therefore gets a
// token larger than all earlier ones for that upload, and [Locker.Fence]
// returns the fence key and the token of the lock the process holds. The
// record store makes every write conditional, in one Lua script, on
// GET <fence key> == token, so writes of a stale holder are rejected.
// Tokens stay monotonic when the fence key expires (7 days after the last
// acquisition): a missing fence key is seeded with the current Unix time in
// microseconds before the INCR, which exceeds every earlier token since
// acquisitions cannot outpace the clock.
//
// Limits: Redis replicates asynchronously, so a failover can lose the last
// acquisitions (lock and fence increments) and let two holders proceed with
// equal tokens; Redis persistence and failover settings bound this window.
// Fencing protects only writes made through the fenced store; other side
// effects of a stale holder (bytes sent to OSS) must be harmless to repeat or
// be committed through a fenced write.
//
// # Errors
//
// If Redis is unreachable or cannot serve writes, Lock returns an
// [*UnavailableError] (wrapping [ErrUnavailable]); tusd's error handling
// turns it into 503 with Retry-After via errors.As, where an unrecognized
// error would be a 500. Errors that a retry cannot fix (a script error,
// WRONGTYPE) are returned wrapped, as 500s. go-redis retries network errors
// itself (Options.MaxRetries) before Lock reports them.
//
// # Lifecycle
//
// [New] does no I/O; the first Lock opens the subscription, and Lock calls
// of a new Locker wait for it (at most 1s, or until their ctx is done) so that
// no lock is held unheard. [Locker.Close]
// closes it and refuses new locks. Metrics are registered explicitly with
// [Locker.RegisterMetrics]. Events are logged with CamelCase names
// (LockAcquired, ReleaseRequested, ReleaseRequestReceived, LockLost,
// LockRenewFailed, LockUnavailable, LockTimeout, ...).
package locker
