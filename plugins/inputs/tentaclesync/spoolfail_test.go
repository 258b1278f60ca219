package tentaclesync

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/spool"
)

func TestUnwritableSpoolStopsThePullAndLosesNothing(t *testing.T) {
	r := startRemote(t, nil)
	for i := range 3 {
		r.put(t, fmt.Sprintf("a.%d.data", i), []byte("data"))
	}
	p, _ := newPlugin(t, r.addr())
	p.Connections = 1
	require.NoError(t, p.Init())
	sp, err := spool.Open(p.SpoolDir)
	require.NoError(t, err)
	defer sp.Close()
	// The directory vanishes under the open spool: every create now fails,
	// whatever our privileges.
	require.NoError(t, os.Remove(p.SpoolDir))

	st := p.newSync(sp, p.targets[0], new(sync.Once)).run()
	require.NoError(t, st.err, "the server did nothing wrong")
	require.ErrorContains(t, st.localErr, "cannot write a.0.data to the spool (left on the server)")
	require.Equal(t, stats{matched: 3, failed: 1, localErr: st.localErr}, st, "the pull stops after the first failure")
	require.Equal(t, int64(3), st.backlog())
	for i := range 3 {
		require.FileExists(t, filepath.Join(r.dir, fmt.Sprintf("a.%d.data", i)))
	}
}

// smallDisk mounts a tmpfs of the given size (e.g. "64k") for the test.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("needs a small tmpfs (root with CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// A file that would bring the spool below min_free_space stays on the
// server, and smaller ones that fit still come.
func TestDiskGuardDefersWhatDoesNotFit(t *testing.T) {
	dir := smallDisk(t, "128k")
	r := startRemote(t, nil)
	r.put(t, "a.1.data", bytes.Repeat([]byte("a"), 20<<10))
	r.put(t, "b.1.data", bytes.Repeat([]byte("b"), 100<<10))
	r.put(t, "c.1.data", bytes.Repeat([]byte("c"), 10))
	p, log := newPlugin(t, r.addr())
	p.SpoolDir = dir
	p.Connections = 1
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("25%"))) // 32 KiB
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_received": int64(2), "bytes_received": int64(20<<10 + 10),
		"files_deferred": int64(1), "backlog_files": int64(1),
	})
	require.FileExists(t, filepath.Join(r.dir, "b.1.data"), "left on the server")
	require.Len(t, spoolFiles(t, dir), 2)
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "min_free_space keeps 25%: leaving files on the servers")
	require.Zero(t, p.reserved.Load(), "every claim is given back")

	// Below the floor already: nothing is asked for, nothing is declined.
	r.put(t, "d.1.data", []byte("d"))
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("99%")))
	acc = gather(t, p)
	m := metricFor(t, acc, r.addr())
	require.Equal(t, int64(2), m.Fields()["files_deferred"])
	require.Equal(t, int64(0), m.Fields()["files_received"])
}

// A disk that fills up under us in the middle of a file (someone else wrote
// to it): the file is already deleted on the server, so it is lost; the pull
// must name it, leave no partial file and take no more files.
func TestDiskFillingMidFileStopsThePull(t *testing.T) {
	dir := smallDisk(t, "64k")
	filler := filepath.Join(dir, "someone-else")
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\nb.1.data\n")
		_, _ = r.ReadString('\n') // MV <a.1.data>
		_, _ = io.WriteString(conn, "MV SIZE 20000\n")
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, strings.Repeat("a", 10000))
		time.Sleep(100 * time.Millisecond) // the first half is written
		f, _ := os.Create(filler)
		_, _ = io.Copy(f, io.LimitReader(zeros{}, 1<<20)) // until ENOSPC
		f.Close()
		_, _ = io.WriteString(conn, strings.Repeat("a", 10000))
		_, _ = r.ReadString('\n') // QUIT, not MV <b.1.data>
	})
	p, log := newPlugin(t, addr)
	p.SpoolDir = dir
	p.ConfigSync = false // the script plays the data pull only
	p.Connections = 1
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("0")))
	require.NoError(t, p.Init())
	acc := gather(t, p)

	m := metricFor(t, acc, addr)
	require.Equal(t, "success", m.Tags()["result"])
	require.Equal(t, int64(0), m.Fields()["files_received"])
	require.Equal(t, int64(1), m.Fields()["files_failed"])
	require.Equal(t, int64(1), m.Fields()["backlog_files"], "b.1.data was not taken")
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "writing a.1.data to the spool failed after the server had deleted it; the file is lost")
	require.ErrorContains(t, acc.Errors[0], "no space left on device")
	require.Empty(t, log.Errors())
	files := spoolFiles(t, dir)
	delete(files, "someone-else")
	require.Empty(t, files, "no partial file, no temporary file")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
