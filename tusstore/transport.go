package tusstore

import (
	"context"
	"io"
	"net"
	"sync"
)

// copyBufSize is the write size for request bodies to OSS over plain HTTP:
// net/http copies a body into the connection through a 32 KiB buffer,
// one write(2) each; 256 KiB writes cut the system calls, and the
// receiver's wake-ups, eightfold for multi-megabyte parts.
const copyBufSize = 256 << 10

// bodyDialer dials connections whose ReadFrom (which net/http's transport
// uses to send request bodies) copies through copyBufSize buffers, pooled
// across connections.
type bodyDialer struct {
	dialer *net.Dialer
	bufs   sync.Pool
}

func newBodyDialer(d *net.Dialer) *bodyDialer {
	b := &bodyDialer{dialer: d}
	b.bufs.New = func() any { return new([copyBufSize]byte) }
	return b
}

// DialContext dials like net.Dialer.DialContext.
func (b *bodyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &bodyConn{Conn: c, d: b}, nil
}

type bodyConn struct {
	net.Conn
	d *bodyDialer
}

// ReadFrom copies r into the connection with a large pooled buffer.
func (c *bodyConn) ReadFrom(r io.Reader) (int64, error) {
	buf := c.d.bufs.Get().(*[copyBufSize]byte)
	defer c.d.bufs.Put(buf)
	return io.CopyBuffer(writerOnly{c.Conn}, r, buf[:])
}

// writerOnly hides the connection's own ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }
