package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/influxdata/telegraf/testutil"

	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

type childFlags struct {
	addr  string
	spool string
	conns int
}

// runChild is the child process of a memory case: one gather, nothing else.
func runChild(cf childFlags) error {
	p, err := newPlugin(cf.addr, cf.spool, cf.conns)
	if err != nil {
		return err
	}
	defer p.Stop()
	var acc testutil.Accumulator
	if err := p.Gather(&acc); err != nil {
		return err
	}
	if len(acc.Errors) > 0 || len(acc.Metrics) != 1 {
		return fmt.Errorf("gather: %d metrics, errors %v", len(acc.Metrics), acc.Errors)
	}
	fmt.Println(acc.Metrics[0].Fields["files_received"])
	return nil
}

type rssResult struct {
	files   int
	bytes   int64
	peak    int64
	elapsed time.Duration
}

// rss seeds a server in this process and pulls in a child process of its
// own, whose peak resident set size is the plugin's alone.
func (b *bench) rss(files int, size int64, conns int) (rssResult, error) {
	remote, dropRemote, err := freshDir(b.fastDir, "remote")
	if err != nil {
		return rssResult{}, err
	}
	defer dropRemote()
	spoolDir, dropSpool, err := freshDir(b.diskDir, "spool")
	if err != nil {
		return rssResult{}, err
	}
	defer dropSpool()
	if err := seed(remote, files, size); err != nil {
		return rssResult{}, err
	}
	addr, stop, err := serve(remote, server.Config{}, 0)
	if err != nil {
		return rssResult{}, err
	}
	defer stop()

	cmd := exec.Command(b.exe, "-child-addr", addr, "-child-spool", spoolDir, "-child-connections", strconv.Itoa(conns))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return rssResult{}, fmt.Errorf("child: %w", err)
	}
	elapsed := time.Since(start)
	if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(files) {
		return rssResult{}, fmt.Errorf("child received %s files, want %d", got, files)
	}
	if err := checkSpool(spoolDir, files, size); err != nil {
		return rssResult{}, err
	}
	return rssResult{files: files, bytes: int64(files) * size, peak: peakRSS(cmd.ProcessState), elapsed: elapsed}, nil
}
