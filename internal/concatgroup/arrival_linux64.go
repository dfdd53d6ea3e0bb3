//go:build linux && (amd64 || arm64)

package concatgroup

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Listener wraps ln so that every TCP connection it accepts records when
// the kernel received the bytes of each read (SO_TIMESTAMPNS, on TCP since
// Linux 4.13). A request's arrival is then the kernel's time for its
// headers, which goroutine scheduling cannot reorder. Connections whose
// socket refuses the option are returned as they are.
func (s *Sequencer) Listener(ln net.Listener) net.Listener { return &stampListener{Listener: ln} }

type stampListener struct{ net.Listener }

func (l *stampListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c, nil
	}
	return &stampConn{TCPConn: tc, raw: raw, oob: make([]byte, 64)}, nil
}

// stampConn is a TCP connection whose reads note the kernel's receive
// time. Reads are not concurrent (net.Conn's contract for one reader).
type stampConn struct {
	*net.TCPConn
	raw  syscall.RawConn
	oob  []byte
	last atomic.Int64 // unix ns: the kernel's receive time of the last bytes read
}

// arrival reports the kernel's receive time of the last bytes read.
func (c *stampConn) arrival() (int64, bool) {
	ns := c.last.Load()
	return ns, ns != 0
}

// Read reads with recvmsg, keeping the receive time the kernel attaches.
func (c *stampConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		var oobn int
		for {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), b, c.oob, 0)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			return false // wait until readable (honours deadlines)
		}
		if rerr == nil && oobn > 0 {
			c.note(c.oob[:oobn])
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", rerr)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// note keeps the SCM_TIMESTAMPNS time from a control message, parsed in
// place (no allocation per read): on 64-bit Linux a cmsghdr is len
// (uint64), level and type (int32 each), followed by a timespec (two
// int64).
func (c *stampConn) note(oob []byte) {
	for len(oob) >= 32 {
		n := int(binary.NativeEndian.Uint64(oob[0:8]))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if n < 16 || n > len(oob) {
			return
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && n >= 32 {
			sec := int64(binary.NativeEndian.Uint64(oob[16:24]))
			nsec := int64(binary.NativeEndian.Uint64(oob[24:32]))
			c.last.Store(time.Unix(sec, nsec).UnixNano())
			return
		}
		oob = oob[(n+7)&^7:]
	}
}

// WriteTo is not promoted from *net.TCPConn: a splice would read past
// Read and its timestamps.
func (c *stampConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, struct{ io.Reader }{c}) }
