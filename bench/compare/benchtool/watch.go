package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat (100
// on every Linux platform Go supports).
const clkTck = 100

// cpuSeconds returns utime+stime of pid in seconds.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ") " are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad times in /proc/%d/stat", pid)
	}
	return (ut + st) / clkTck, nil
}

// statusKB returns a kB field (VmHWM, VmRSS) of /proc/PID/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// diskBytes is the allocated size of every file under dirs (du -s).
func diskBytes(dirs []string) int64 {
	var n int64
	for _, d := range dirs {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil // files come and go while we walk
			}
			if info, err := e.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				} else {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

// wanProc is the backend name of the WAN link proxy process.
const wanProc = "wan"

// watcher samples one server process (peak RSS via VmHWM, peak disk under
// its directories) and the CPU time of it and of the backend processes
// between start and stop.
type watcher struct {
	pids    []int // the server's processes (several gateway instances)
	dirs    []string
	backend map[string]int // name -> pid

	stopc chan struct{}
	wg    sync.WaitGroup

	cpu0     float64
	backend0 map[string]float64
	peakDisk int64
	samples  int
}

type watchResult struct {
	CPUSeconds    float64            `json:"cpuSeconds"`
	BackendCPU    float64            `json:"backendCpuSeconds"`
	BackendByName map[string]float64 `json:"backendCpuByProcess,omitempty"`
	// WANCPU is the WAN link proxy's CPU seconds (WAN cases), which is the
	// network's cost, not the backend's: it is not in BackendCPU.
	WANCPU         float64 `json:"wanCpuSeconds,omitempty"`
	PeakRSSKB      int64   `json:"peakRssKb"`
	PeakDiskBytes  int64   `json:"peakDiskBytes"`
	DiskSamples    int     `json:"diskSamples"`
	ServerAliveEnd bool    `json:"serverAliveAtEnd"`
}

func startWatch(pids []int, dirs []string, backend map[string]int, every time.Duration) (*watcher, error) {
	w := &watcher{pids: pids, dirs: dirs, backend: backend, stopc: make(chan struct{})}
	for _, pid := range pids {
		c, err := cpuSeconds(pid)
		if err != nil {
			return nil, err
		}
		w.cpu0 += c
	}
	w.backend0 = cpuOf(backend)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-w.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return w, nil
}

func (w *watcher) sample() {
	if d := diskBytes(w.dirs); d > w.peakDisk {
		w.peakDisk = d
	}
	w.samples++
}

func cpuOf(pids map[string]int) map[string]float64 {
	m := map[string]float64{}
	for name, p := range pids {
		if c, err := cpuSeconds(p); err == nil {
			m[name] = c
		}
	}
	return m
}

// stop ends sampling and returns the figures; the process must still run.
func (w *watcher) stop() watchResult {
	close(w.stopc)
	w.wg.Wait()
	w.sample()
	r := watchResult{PeakDiskBytes: w.peakDisk, DiskSamples: w.samples}
	r.ServerAliveEnd = true
	cpu := 0.0
	for _, pid := range w.pids {
		c, err := cpuSeconds(pid)
		if err != nil {
			r.ServerAliveEnd = false
			continue
		}
		cpu += c
	}
	if r.ServerAliveEnd {
		r.CPUSeconds = cpu - w.cpu0
	}
	if len(w.backend) > 0 {
		r.BackendByName = map[string]float64{}
		for name, c := range cpuOf(w.backend) {
			d := c - w.backend0[name]
			r.BackendByName[name] = d
			if name == wanProc {
				r.WANCPU = d
				continue
			}
			r.BackendCPU += d
		}
	}
	for _, pid := range w.pids { // summed: the instances' peaks, an upper bound of their joint peak
		if hwm, err := statusKB(pid, "VmHWM"); err == nil {
			r.PeakRSSKB += hwm
		}
	}
	return r
}
