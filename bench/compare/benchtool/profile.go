package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// profiler drives the pprof endpoint that bench/compare/pprof.go.in adds to
// a gateway built for profiling (run.sh -gateway-profile DIR).
type profiler struct {
	base  string // http://host:port
	dir   string
	name  string // file name prefix
	trace int    // seconds of execution trace to take at the start, 0: none
	done  chan error
}

func (p *profiler) post(path string) error {
	res, err := http.Post(p.base+path, "text/plain", nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s: HTTP %d: %s", path, res.StatusCode, b)
	}
	return nil
}

func (p *profiler) startCPU() error {
	if err := p.post("/bench/cpu/start?path=" + filepath.Join(p.dir, p.name+".cpu.pprof")); err != nil {
		return err
	}
	if p.trace > 0 {
		p.done = make(chan error, 1)
		go func() {
			p.done <- saveURL(fmt.Sprintf("%s/debug/pprof/trace?seconds=%d", p.base, p.trace), filepath.Join(p.dir, p.name+".trace"))
		}()
	}
	return nil
}

// stop ends the CPU profile and saves the allocation, mutex and block
// profiles (cumulative since the gateway started).
func (p *profiler) stop() error {
	if err := p.post("/bench/cpu/stop"); err != nil {
		return err
	}
	if p.done != nil {
		if err := <-p.done; err != nil {
			return fmt.Errorf("trace: %w", err)
		}
	}
	for _, kind := range []string{"allocs", "mutex", "block", "goroutine"} {
		if err := p.save(kind); err != nil {
			return err
		}
	}
	return nil
}

func (p *profiler) save(kind string) error {
	return saveURL(p.base+"/debug/pprof/"+kind, filepath.Join(p.dir, p.name+"."+kind+".pprof"))
}

// saveURL writes the body of a GET of url to path.
func saveURL(url, path string) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
