package tentaclesync

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
)

func TestUnwritableSpoolStopsThePullAndLosesNothing(t *testing.T) {
	r := startRemote(t, nil)
	for i := range 3 {
		r.put(t, fmt.Sprintf("a.%d.data", i), []byte(agentXML("data")))
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
	require.ErrorContains(t, st.localErr, `cannot write "a.0.data" to the spool (left on the server)`)
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
	a, b, c := agentXML(strings.Repeat("a", 20<<10)), agentXML(strings.Repeat("b", 100<<10)), agentXML("c")
	r.put(t, "a.1.data", []byte(a))
	r.put(t, "b.1.data", []byte(b))
	r.put(t, "c.1.data", []byte(c))
	p, log := newPlugin(t, r.addr())
	p.SpoolDir = dir
	p.Connections = 1
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("25%"))) // 32 KiB
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_received": int64(2), "bytes_received": int64(len(a) + len(c)),
		"files_deferred": int64(1), "backlog_files": int64(1),
	})
	require.FileExists(t, filepath.Join(r.dir, "b.1.data"), "left on the server")
	require.Len(t, spoolFiles(t, dir), 2)
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "min_free_space keeps 25%: leaving files on the servers")
	require.Zero(t, p.reserved.Load(), "every claim is given back")

	// Below the floor already: nothing is asked for, nothing is declined.
	r.put(t, "d.1.data", []byte(agentXML("d")))
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("99%")))
	acc = gather(t, p)
	m := metricFor(t, acc, r.addr())
	require.Equal(t, int64(2), m.Fields()["files_deferred"])
	require.Equal(t, int64(0), m.Fields()["files_received"])
}

// A disk that fills up under us in the middle of a file (someone else wrote
// to it): the connection is cut at once, so the server, still sending,
// keeps the file; the pull says so, leaves no partial file and takes no
// more files.
func TestDiskFillingMidFileLeavesTheFileOnTheServer(t *testing.T) {
	dir := smallDisk(t, "32m")
	r := startRemote(t, nil)
	// Far more than the socket buffers hold: the server is still sending
	// when the disk fills.
	big := agentXML(strings.Repeat("a", 24<<20))
	r.put(t, "a.1.data", []byte(big))
	r.put(t, "b.1.data", []byte(agentXML("b")))
	filled := fillWhenWriting(t, dir, 1<<20)
	p, log := newPlugin(t, r.addr())
	p.SpoolDir = dir
	p.ConfigSync = false
	p.Connections = 1
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("0")))
	require.NoError(t, p.Init())
	acc := gather(t, p)
	<-filled

	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_failed": int64(1), "backlog_files": int64(2),
	})
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], `cannot write "a.1.data" to the spool; the connection was cut at once so that the server keeps it`)
	require.ErrorContains(t, acc.Errors[0], "no space left on device")
	require.Empty(t, log.Errors(), "nothing is lost")
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "the file is still on the server and comes at the next gather")
	kept, err := os.ReadFile(filepath.Join(r.dir, "a.1.data"))
	require.NoError(t, err)
	require.Equal(t, big, string(kept), "the server kept the whole file")
	files := spoolFiles(t, dir)
	delete(files, "someone-else")
	require.Empty(t, files, "no partial file, no temporary file")
}

// fillWhenWriting fills the disk at dir, as another program would, once a
// spool file being written there holds after bytes.
func fillWhenWriting(t *testing.T, dir string, after int64) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			temps, _ := filepath.Glob(filepath.Join(dir, spool.TempPrefix+"*.tmp"))
			for _, tmp := range temps {
				if info, err := os.Stat(tmp); err == nil && info.Size() >= after {
					f, _ := os.Create(filepath.Join(dir, "someone-else"))
					_, _ = io.Copy(f, zeros{}) // until ENOSPC
					f.Close()
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
		t.Error("no spool file was being written")
	}()
	return done
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
