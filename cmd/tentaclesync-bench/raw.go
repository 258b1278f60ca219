package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tentaclesync/tentaclesync/spool"
)

// rawLoopback is the physical limit of the link: n bytes through one TCP
// connection on loopback in 64 KiB writes and reads, nothing else done.
func rawLoopback(n int64) (mbPerSec float64, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		for left := n; left > 0; left -= int64(len(buf)) {
			if _, err := c.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	got, err := io.CopyBuffer(io.Discard, io.LimitReader(c, n), make([]byte, 64<<10))
	elapsed := time.Since(start)
	if err == nil && got != n {
		err = fmt.Errorf("raw copy: %d of %d bytes", got, n)
	}
	if serr := <-sent; err == nil {
		err = serr
	}
	return float64(n) / 1e6 / elapsed.Seconds(), err
}

// diskWrite is the spool disk's streaming rate: n bytes into one file in
// 64 KiB writes, then fsync.
func diskWrite(dir string, n int64) (mbPerSec float64, err error) {
	path := filepath.Join(dir, "disk-write.tmp")
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	start := time.Now()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return float64(n) / 1e6 / time.Since(start).Seconds(), nil
}

// spoolCeiling is how many 4 KiB files per second the spool package makes
// durable on this disk with no network at all: the same Create, Write and
// Commit the plugin does, from `writers` goroutines at once.
func spoolCeiling(dir string, files, writers int, size int64) (filesPerSec float64, err error) {
	sp, err := spool.Open(dir)
	if err != nil {
		return 0, err
	}
	defer sp.Close()
	body := make([]byte, size)
	names := make(chan string, files)
	for i := range files {
		names <- fmt.Sprintf("ceiling%06d.data", i)
	}
	close(names)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for name := range names {
				if werr := commitOne(sp, name, body); werr != nil {
					mu.Lock()
					err = werr
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(files) / time.Since(start).Seconds(), err
}

func commitOne(sp *spool.Spool, name string, body []byte) error {
	f, err := sp.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Abort()
		return err
	}
	_, err = f.Commit()
	return err
}
