//go:build !(linux && (amd64 || arm64))

package concatgroup

import "net"

// Listener returns ln: kernel receive times are read on 64-bit Linux only;
// elsewhere a request's arrival is when it reaches the middleware.
func (s *Sequencer) Listener(ln net.Listener) net.Listener { return ln }
