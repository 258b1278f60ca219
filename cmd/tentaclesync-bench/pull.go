package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/testutil"

	"github.com/tentaclesync/tentaclesync/plugins/inputs/tentaclesync"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// pullCase is one pull through the plugin.
type pullCase struct {
	files   int
	size    int64
	conns   int
	rtt     time.Duration // 0: straight to the server
	noDelay bool          // server without Nagle (not reference-faithful)
	block   int           // server's body block; 0: 1 KiB (reference-faithful)
	spool   string        // root the spool is made in
}

type pullResult struct {
	files   int
	bytes   int64
	elapsed time.Duration
}

func (r pullResult) filesPerSec() float64 { return float64(r.files) / r.elapsed.Seconds() }
func (r pullResult) mbPerSec() float64    { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// pull seeds a server with the case's files, gathers once through the plugin
// and checks that every file arrived whole in the spool. The time is the
// gather's: listing, moving and making every file durable.
func (b *bench) pull(pc pullCase) (pullResult, error) {
	remote, dropRemote, err := freshDir(b.fastDir, "remote")
	if err != nil {
		return pullResult{}, err
	}
	defer dropRemote()
	spoolDir, dropSpool, err := freshDir(pc.spool, "spool")
	if err != nil {
		return pullResult{}, err
	}
	defer dropSpool()
	if err := seed(remote, pc.files, pc.size); err != nil {
		return pullResult{}, err
	}
	addr, stop, err := serve(remote, server.Config{NoDelay: pc.noDelay, BodyBlock: pc.block}, pc.rtt)
	if err != nil {
		return pullResult{}, err
	}
	defer stop()

	p, err := newPlugin(addr, spoolDir, pc.conns)
	if err != nil {
		return pullResult{}, err
	}
	defer p.Stop()
	var acc testutil.Accumulator
	start := time.Now()
	if err := p.Gather(&acc); err != nil {
		return pullResult{}, err
	}
	elapsed := time.Since(start)
	if err := checkGather(&acc, pc.files); err != nil {
		return pullResult{}, err
	}
	if err := checkSpool(spoolDir, pc.files, pc.size); err != nil {
		return pullResult{}, err
	}
	return pullResult{files: pc.files, bytes: int64(pc.files) * pc.size, elapsed: elapsed}, nil
}

// serve starts the Go Tentacle server on dir with -I and cfg's other
// settings, behind the latency proxy when rtt > 0, and returns the address
// to pull from.
func serve(dir string, cfg server.Config, rtt time.Duration) (string, func(), error) {
	cfg.Dir, cfg.Insecure = dir, true
	srv, err := server.Start("127.0.0.1:0", cfg)
	if err != nil {
		return "", nil, err
	}
	if rtt == 0 {
		return srv.Addr(), func() { srv.Close() }, nil
	}
	proxy, err := startProxy(srv.Addr(), rtt)
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	return proxy.Addr(), func() { proxy.Close(); srv.Close() }, nil
}

// newPlugin configures the input as a user would, with no per-gather bound
// so that one gather takes everything.
func newPlugin(addr, spoolDir string, conns int) (*tentaclesync.TentacleSync, error) {
	p := inputs.Inputs["tentaclesync"]().(*tentaclesync.TentacleSync)
	p.Servers = []string{addr}
	p.SpoolDir = spoolDir
	p.Connections = conns
	p.Timeout = config.Duration(30 * time.Second)
	p.MaxFileSize = config.Size(4 << 30)
	p.MaxFilesPerGather = 0
	p.ConfigSync = false // data files only, and no state in /var/lib
	p.MinFileAge = 0     // the files are whole before the gather starts: settling would only add its wait
	p.Log = testutil.Logger{Name: "inputs.tentaclesync", Quiet: true}
	if err := p.Init(); err != nil {
		return nil, fmt.Errorf("plugin init: %w", err)
	}
	return p, nil
}

// checkGather wants one metric saying every file was received, and no error.
func checkGather(acc *testutil.Accumulator, files int) error {
	if len(acc.Errors) > 0 {
		return fmt.Errorf("gather reported: %w", errors.Join(acc.Errors...))
	}
	if len(acc.Metrics) != 1 {
		return fmt.Errorf("gather gave %d metrics, want 1", len(acc.Metrics))
	}
	m := acc.Metrics[0]
	if m.Tags["result"] != "success" || m.Fields["files_received"] != int64(files) {
		return fmt.Errorf("gather: result %s, %v of %d files received", m.Tags["result"], m.Fields["files_received"], files)
	}
	return nil
}

// checkSpool wants exactly the files, whole, and no temporary file left.
func checkSpool(dir string, files int, size int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == spool.PullLockDir })
	if len(entries) != files {
		return fmt.Errorf("spool holds %d entries, want %d", len(entries), files)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), spool.TempPrefix) || info.Size() != size {
			return fmt.Errorf("spool: %s has %d bytes, want %d", e.Name(), info.Size(), size)
		}
	}
	return nil
}

// agentDataEnd closes an agent data file: without it a copy is not whole.
const agentDataEnd = "</agent_data>\n"

// seed writes files of size bytes named like agent data files, ending as
// they do.
func seed(dir string, files int, size int64) error {
	block := make([]byte, min(size, 1<<20))
	for i := range block {
		block[i] = byte('a' + i%26)
	}
	for i := range files {
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("agent%06d.%d.data", i%1000, i)), block, size); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, block []byte, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	body := max(0, size-int64(len(agentDataEnd)))
	for left := body; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := io.WriteString(f, agentDataEnd[int64(len(agentDataEnd))-(size-body):]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
