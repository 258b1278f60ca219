// Command tentaclesync-bench measures the sync input end to end and prints
// the README's results table (markdown) on stdout; progress goes to stderr.
//
// Every pull goes through the real plugin path, TentacleSync.Gather, from the
// Go Tentacle server in its reference-faithful mode on loopback, and a file
// counts only once Gather reports it received, which it does only after the
// file and its directory entry are durable in the spool. The raw loopback
// copy rate and the spool disk's own rates are measured in the same run as
// the limits. Peak memory is measured in a child process that does nothing
// but one gather, with the server in this process.
//
//	go run ./cmd/tentaclesync-bench           # the full table, a few minutes
//	go run ./cmd/tentaclesync-bench -quick    # tiny sizes, seconds (CI)
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// sizes are the amounts of work of one run.
type sizes struct {
	smallFiles int   // 4 KiB files per loopback case
	smallSize  int64 // 4 KiB
	bigFiles   int   // 50 MiB files per case
	bigSize    int64
	rttFiles   int // 4 KiB files per case behind the latency proxy
	rtt        time.Duration
	nagleFiles int   // 4 KiB files per Nagle case
	rawBytes   int64 // bytes through the raw loopback copy and the disk write
	ceiling    int   // files of the spool's durable-commit probe
	rssBig     int64 // the one big file of the memory case
	rssFiles   int   // files the same bytes are spread over
}

var full = sizes{
	smallFiles: 20000, smallSize: 4 << 10,
	bigFiles: 20, bigSize: 50 << 20,
	rttFiles: 1000, rtt: 20 * time.Millisecond,
	nagleFiles: 2000,
	rawBytes:   1 << 30,
	ceiling:    2000,
	rssBig:     1 << 30, rssFiles: 200000,
}

var quick = sizes{
	smallFiles: 200, smallSize: 4 << 10,
	bigFiles: 2, bigSize: 1 << 20,
	rttFiles: 16, rtt: 20 * time.Millisecond,
	nagleFiles: 50,
	rawBytes:   16 << 20,
	ceiling:    50,
	rssBig:     8 << 20, rssFiles: 1000,
}

// exitCode is set on failure; main returns through its defers first.
var exitCode int

func main() {
	defer func() { os.Exit(exitCode) }()
	quickRun := flag.Bool("quick", false, "tiny sizes: proves the suite works in seconds; the numbers mean nothing")
	spoolRoot := flag.String("spool", os.TempDir(), "directory on the disk under test; the spools are made and removed in it")
	fastRoot := flag.String("tmpfs", defaultTmpfs(), "directory on a RAM filesystem for the remote servers' files and the spool-on-tmpfs rows")
	only := flag.String("only", "", "run only these sections (comma-separated): small, tmpfs, big, rtt, nagle, rss; the limits always run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (the server, the plugin, the proxy; not the memory cases' child) to this file")
	var child childFlags
	flag.StringVar(&child.addr, "child-addr", "", "internal: gather once from this server in a child process")
	flag.StringVar(&child.spool, "child-spool", "", "internal: the child's spool")
	flag.IntVar(&child.conns, "child-connections", 1, "internal: the child's connections")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	if child.addr != "" {
		if err := runChild(child); err != nil {
			log.Fatal(err)
		}
		return
	}
	sz := full
	if *quickRun {
		sz = quick
	}
	b, err := newBench(sz, *spoolRoot, *fastRoot)
	if err != nil {
		log.Fatal(err)
	}
	b.only = *only
	defer b.cleanup()
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
	}
	if err := b.run(os.Stdout); err != nil {
		log.Print(err)
		exitCode = 1
	}
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// defaultTmpfs is /dev/shm where there is one, else the temporary directory.
func defaultTmpfs() string {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// bench holds one run's directories.
type bench struct {
	sz        sizes
	only      string // sections to run; all when empty
	diskDir   string // on the disk under test
	fastDir   string // on tmpfs
	exe       string
	startedAt time.Time
}

func newBench(sz sizes, diskRoot, fastRoot string) (*bench, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	diskDir, err := os.MkdirTemp(diskRoot, "tentaclesync-bench-")
	if err != nil {
		return nil, err
	}
	fastDir, err := os.MkdirTemp(fastRoot, "tentaclesync-bench-")
	if err != nil {
		os.RemoveAll(diskDir)
		return nil, err
	}
	return &bench{sz: sz, diskDir: diskDir, fastDir: fastDir, exe: exe, startedAt: time.Now()}, nil
}

func (b *bench) cleanup() {
	os.RemoveAll(b.diskDir)
	os.RemoveAll(b.fastDir)
}

// freshDir makes an empty directory below root for one case.
func freshDir(root, name string) (string, func(), error) {
	dir := filepath.Join(root, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
