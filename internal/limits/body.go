package limits

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Reasons a request body is cut.
const (
	cutSlow = "slow_client"
	cutIdle = "idle_client"
)

// meter wraps a request body and cuts it when the client sends too
// slowly. Time is counted only while the server waits in Read, so time the
// server spends elsewhere (uploading a part, waiting for a lock) is never
// blamed on the client. Two rules:
//   - speed: once Read has waited window in total, the bytes received over
//     the last window of waiting must be at least minRate*window;
//   - idle: one Read may not wait longer than idle (if idle > 0).
//
// A watchdog re-checks every window/10 while a Read is blocked; on a cut
// it calls unblock (which sets the connection's read deadline to now) and
// every Read from then on returns the cut error.
type meter struct {
	body     io.ReadCloser
	minBytes int64 // per window
	window   time.Duration
	idle     time.Duration
	step     time.Duration
	now      func() time.Time
	unblock  func()
	onCut    func(reason string)

	mu       sync.Mutex
	waited   time.Duration // total time of finished Reads
	inRead   time.Time     // start of the Read in progress; zero if none
	bytes    int64
	samples  []sample
	err      error
	timer    *time.Timer
	stopped  bool
	minSpeed int64 // bytes/s, for the message
}

type sample struct {
	waited time.Duration
	bytes  int64
}

func newMeter(body io.ReadCloser, minSpeed int64, window, idle time.Duration, now func() time.Time) *meter {
	step := window / 10
	if idle > 0 && idle/4 < step {
		step = idle / 4
	}
	step = max(step, 10*time.Millisecond)
	return &meter{
		body: body, minBytes: int64(float64(minSpeed) * window.Seconds()), minSpeed: minSpeed,
		window: window, idle: idle, step: step, now: now,
		samples: []sample{{}}, unblock: func() {}, onCut: func(string) {},
	}
}

// start arms the watchdog.
func (m *meter) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer = time.AfterFunc(m.step, m.tick)
}

// stop disarms the watchdog; call it when the handler is done.
func (m *meter) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	if m.timer != nil {
		m.timer.Stop()
	}
}

func (m *meter) tick() {
	m.mu.Lock()
	if m.stopped || m.err != nil {
		m.mu.Unlock()
		return
	}
	cut := m.checkLocked(m.now())
	if cut == "" {
		m.timer.Reset(m.step)
	}
	m.mu.Unlock()
	if cut != "" {
		m.onCut(cut)
		m.unblock()
	}
}

func (m *meter) Read(p []byte) (int, error) {
	m.mu.Lock()
	if m.err != nil {
		err := m.err
		m.mu.Unlock()
		return 0, err
	}
	m.inRead = m.now()
	m.mu.Unlock()

	n, err := m.body.Read(p)

	m.mu.Lock()
	now := m.now()
	m.waited += now.Sub(m.inRead)
	m.inRead = time.Time{}
	m.bytes += int64(n)
	if m.err != nil { // cut while blocked: the read error is the deadline
		err = m.err
		m.mu.Unlock()
		return n, err
	}
	var cut string
	if err == nil {
		cut = m.checkLocked(now)
	}
	if cut != "" {
		err = m.err
	}
	m.mu.Unlock()
	if cut != "" {
		m.onCut(cut)
	}
	return n, err
}

func (m *meter) Close() error { return m.body.Close() }

// checkLocked applies both rules at now and, on a violation, sets m.err
// and returns the reason.
func (m *meter) checkLocked(now time.Time) string {
	waited := m.waited
	if !m.inRead.IsZero() {
		blocked := now.Sub(m.inRead)
		waited += blocked
		if m.idle > 0 && blocked >= m.idle {
			m.err = cutError("ERR_CLIENT_IDLE", fmt.Sprintf("no request body data for %s", m.idle))
			return cutIdle
		}
	}
	if m.minBytes <= 0 {
		return ""
	}
	if last := m.samples[len(m.samples)-1]; waited-last.waited >= m.step {
		m.samples = append(m.samples, sample{waited, m.bytes})
	}
	// The newest sample at least one window of waiting old starts the window.
	start := -1
	for i := len(m.samples) - 1; i >= 0; i-- {
		if waited-m.samples[i].waited >= m.window {
			start = i
			break
		}
	}
	if start < 0 {
		return ""
	}
	m.samples = m.samples[start:]
	if m.bytes-m.samples[0].bytes < m.minBytes {
		m.err = cutError("ERR_CLIENT_TOO_SLOW",
			fmt.Sprintf("request body slower than %d bytes/s over %s", m.minSpeed, m.window))
		return cutSlow
	}
	return ""
}

// cutError answers a cut request with 408 and closes the connection, so
// the server does not wait for the rest of the body.
func cutError(code, msg string) error {
	e := handler.NewError(code, msg, http.StatusRequestTimeout)
	e.HTTPResponse.Header = handler.HTTPHeader{"Content-Type": "text/plain; charset=utf-8", "Connection": "close"}
	return e
}
