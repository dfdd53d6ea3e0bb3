//go:build linux && (amd64 || arm64)

package concatgroup

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestListenerNotesKernelReceiveTime: a connection from Listener reads
// like any other and reports when the kernel received its last bytes.
func TestListenerNotesKernelReceiveTime(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := (&Sequencer{}).Listener(inner)
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello"))
		time.Sleep(50 * time.Millisecond)
		_, _ = c.Write([]byte(" world"))
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, ok := c.(arrivalConn)
	if !ok {
		t.Fatalf("accepted %T, not a connection that notes arrival", c)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	// The kernel stamps packets only once some socket asked for it, so
	// the first bytes may carry no time; those sent later do.
	before := time.Now()
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != " world" {
		t.Fatalf("read %q, %v", rest, err)
	}
	ns, ok := a.arrival()
	at := time.Unix(0, ns)
	if !ok || at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Fatalf("arrival %v (ok %v), want a kernel time between %v and now", at, ok, before)
	}
}
