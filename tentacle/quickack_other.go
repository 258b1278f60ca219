//go:build !linux

package tentacle

import "net"

// WithQuickAck is a no-op where TCP_QUICKACK does not exist.
func WithQuickAck(conn net.Conn) net.Conn { return conn }
