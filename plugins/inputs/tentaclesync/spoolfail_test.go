package tentaclesync

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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

	st := p.newSync(sp, p.targets[0]).run()
	require.NoError(t, st.err, "the server did nothing wrong")
	require.ErrorContains(t, st.localErr, "cannot write a.0.data to the spool (left on the server)")
	require.Equal(t, stats{matched: 3, failed: 1, localErr: st.localErr}, st, "the pull stops after the first failure")
	require.Equal(t, int64(3), st.backlog())
	for i := range 3 {
		require.FileExists(t, filepath.Join(r.dir, fmt.Sprintf("a.%d.data", i)))
	}
}

// A full disk in the middle of a file: the file is already deleted on the
// server, so it is lost; the pull must name it, leave no partial file and
// take no more files.
func TestFullDiskStopsThePull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("needs a small tmpfs (root with CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })

	r := startRemote(t, nil)
	r.put(t, "a.1.data", bytes.Repeat([]byte("a"), 20<<10))
	r.put(t, "b.1.data", bytes.Repeat([]byte("b"), 100<<10))
	r.put(t, "c.1.data", bytes.Repeat([]byte("c"), 10))
	p, log := newPlugin(t, r.addr())
	p.SpoolDir = dir
	p.Connections = 1
	require.NoError(t, p.Init())
	acc := gather(t, p)

	m := metricFor(t, acc, r.addr())
	require.Equal(t, "success", m.Tags()["result"])
	require.Equal(t, int64(1), m.Fields()["files_received"])
	require.Equal(t, int64(1), m.Fields()["files_failed"])
	require.Equal(t, int64(1), m.Fields()["backlog_files"], "c.1.data was not taken")
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "writing b.1.data to the spool failed after the server had deleted it; the file is lost")
	require.ErrorContains(t, acc.Errors[0], "no space left on device")
	require.Empty(t, log.Errors())
	require.Equal(t, map[string][]byte{"a.1.data": bytes.Repeat([]byte("a"), 20<<10)}, spoolFiles(t, dir),
		"no partial file, no temporary file")
	require.FileExists(t, filepath.Join(r.dir, "c.1.data"))
}
