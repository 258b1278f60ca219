// Package scripted serves TCP connections on loopback with a hand-written
// script, for tests of behaviour the Go Tentacle server never shows:
// garbage, truncated bodies, hang-ups at chosen moments.
package scripted

import (
	"bufio"
	"net"
	"sync"
	"testing"
)

// Serve runs script for every connection until the test ends, and returns
// the address to dial.
func Serve(t testing.TB, script func(net.Conn, *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				script(conn, bufio.NewReader(conn))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
