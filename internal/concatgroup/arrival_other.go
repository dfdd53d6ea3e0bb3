//go:build !linux

package concatgroup

import "net"

// Listener returns ln: kernel receive times are read on Linux only;
// elsewhere a request's arrival is when it reaches the middleware.
func (s *Sequencer) Listener(ln net.Listener) net.Listener { return ln }
