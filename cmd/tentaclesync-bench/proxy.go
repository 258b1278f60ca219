package main

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

// delayProxy forwards TCP connections to a target and delays every chunk of
// bytes by half the round trip in each direction, as a long link would. It
// does not limit bandwidth: chunks are queued, so a full window is in flight.
//
// TCP ends at the proxy, so it models the time bytes spend on the link, not
// TCP's own behaviour over it: a sender's Nagle wait for an ACK happens
// against the proxy, on loopback.
type delayProxy struct {
	ln     net.Listener
	target string
	oneWay time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startProxy(target string, rtt time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, oneWay: rtt / 2, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

func (p *delayProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *delayProxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.track(down, up)
		p.wg.Go(func() {
			var pair sync.WaitGroup
			pair.Go(func() { p.pipe(up, down) })
			pair.Go(func() { p.pipe(down, up) })
			pair.Wait()
			down.Close()
			up.Close()
		})
	}
}

func (p *delayProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

type chunk struct {
	due  time.Time
	data []byte
}

// pipe copies src to dst, each chunk leaving oneWay after it arrived. The
// queue bounds what is in flight (256 chunks of up to 64 KiB). A failed
// write closes both ends, which ends the other direction too.
func (p *delayProxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, 256)
	go func() {
		defer close(queue)
		r := tentacle.WithQuickAck(src)
		for {
			buf := make([]byte, 64<<10)
			n, err := r.Read(buf)
			if n > 0 {
				queue <- chunk{due: time.Now().Add(p.oneWay), data: buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			dst.Close()
			src.Close()
			for range queue {
			}
			return
		}
	}
	if tcp, ok := dst.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
}

// proxyRTT is the round trip the proxy really gives on this machine now:
// the mean of 50 small ping-pongs through it to an echo server. Timer and
// scheduling delays under load make it longer than asked for.
func proxyRTT(rtt time.Duration) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, tentacle.WithQuickAck(c))
	}()
	p, err := startProxy(ln.Addr().String(), rtt)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r := tentacle.WithQuickAck(c)
	ping := make([]byte, 16)
	const rounds = 50
	start := time.Now()
	for range rounds {
		if _, err := c.Write(ping); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(r, ping); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / rounds, nil
}
