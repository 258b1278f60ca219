package main

import (
	"io"
	"net"
	"syscall"
)

// quickAckReader acknowledges at once before each read, as tentaclesync's
// client does, so that the proxy adds no delayed-ACK stalls of its own.
type quickAckReader struct {
	conn *net.TCPConn
	raw  syscall.RawConn
}

func withQuickAck(conn net.Conn) io.Reader {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return conn
	}
	return &quickAckReader{conn: tcp, raw: raw}
}

func (r *quickAckReader) Read(b []byte) (int, error) {
	_ = r.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return r.conn.Read(b)
}
