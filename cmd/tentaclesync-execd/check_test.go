package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree is every entry under a directory: its type and mode, size, mtime,
// inode and, for a file, the SHA-256 of its content. A file moved, sent,
// written or replaced changes it, and so does one created and removed
// again (its directory's mtime).
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	entries := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var ino uint64
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		entry := fmt.Sprintf("%v %d %d ino=%d", info.Mode(), info.Size(), info.ModTime().UnixNano(), ino)
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			entry += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(root, path)
		entries[rel] = entry
		return nil
	})
	require.NoError(t, err)
	return entries
}

// runCheck runs the binary with -check and returns its stdout, stderr and
// exit code.
func runCheck(t *testing.T, config string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(execd(t), "-config", config, "-check")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err, errOut.String())
	return out.String(), errOut.String(), 0
}

// checkedSite is a site with what a gather would take, skip, push and
// pull, and a leftover in the spool that a real start would remove.
func checkedSite(t *testing.T) *site {
	t.Helper()
	s := newSite(t)
	s.seed(t, "site", 1024, 65537, 300<<10)
	require.NoError(t, os.WriteFile(filepath.Join(s.remote, "empty.data"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(s.remote, "bad;name.data"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(s.remote, "huge.data"), make([]byte, 2<<20), 0o644))
	s.seedConfig(t)
	// What a crash leaves: Init's recovery would remove it.
	leftover := filepath.Join(s.spool, ".tentaclesync-ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp")
	require.NoError(t, os.WriteFile(leftover, []byte("half"), 0o644))
	config, err := os.ReadFile(s.config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.config, append(config, "  max_file_size = \"1MiB\"\n"...), 0o600))
	return s
}

func TestCheckSaysWhatAGatherWouldDoAndChangesNothing(t *testing.T) {
	s := checkedSite(t)
	config, err := os.ReadFile(s.config)
	require.NoError(t, err)
	config = bytes.Replace(config, fmt.Appendf(nil, "servers = [%q]", s.addr), fmt.Appendf(nil, "servers = [%q, \"127.0.0.1:1\"]\n  retries = 0", s.addr), 1)
	require.NoError(t, os.WriteFile(s.config, config, 0o600))
	site := filepath.Dir(s.remote) // remote, spool, state_dir, certificates, configuration
	before := tree(t, site)

	out, log, code := runCheck(t, s.config)
	require.Equal(t, 1, code, "one server is unreachable: %s\n%s", out, log)
	require.Equal(t, before, tree(t, site), "-check changed something:\n%s", out)
	require.NoDirExists(t, s.state)

	for _, want := range []string{
		s.addr + ": reachable (TLS with a client certificate, password accepted)",
		"data: 3 files waiting, 365.0 KiB (all 3 sized)",
		`skipped, left on the server: 3: "bad;name.data": `,
		`"empty.data": empty, still being uploaded`,
		`"huge.data": 2.0 MiB, above max_file_size (1.0 MiB)`,
		"configuration: 2 to push (conf/edited.conf, md5/edited.md5), 2 to pull (conf/agent.conf, md5/agent.md5), 0 to remove; 0 in step",
		"127.0.0.1:1: unreachable (connection_failed): ",
		"state_dir " + s.state + ": does not exist yet",
		"FAILED: 1 of 2 servers unreachable or unusable",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out+log, "p@ss w0rd")
}

// A check that passes exits 0, and the gather that follows does what it
// said; after it, the check sees nothing to do, then the removals that a
// central deletion calls for.
func TestCheckPassesAndTheGatherDoesWhatItSaid(t *testing.T) {
	s := checkedSite(t)
	site := filepath.Dir(s.remote)
	before := tree(t, site)
	out, log, code := runCheck(t, s.config)
	require.Equal(t, 0, code, "%s\n%s", out, log)
	require.Equal(t, before, tree(t, site), "-check changed something:\n%s", out)
	require.Contains(t, out, "data: 3 files waiting")
	require.Contains(t, out, "configuration: 2 to push (conf/edited.conf, md5/edited.md5), 2 to pull (conf/agent.conf, md5/agent.md5), 0 to remove")
	require.Contains(t, out, "OK: 1 of 1 servers reachable and usable")

	metric, _ := runOnce(t, s.config)
	fields := metric.Fields()
	require.Equal(t, int64(3), fields["files_received"])
	require.Equal(t, int64(3), fields["files_skipped"])
	require.Equal(t, int64(2), fields["config_files_sent"])
	require.Equal(t, int64(2), fields["config_files_received"])

	before = tree(t, site) // now with a state file and the pull locks
	out, log, code = runCheck(t, s.config)
	require.Equal(t, 0, code, "%s\n%s", out, log)
	require.Equal(t, before, tree(t, site), "-check changed something:\n%s", out)
	require.Contains(t, out, "data: 0 files waiting")
	require.Contains(t, out, "configuration: 0 to push, 0 to pull, 0 to remove; 4 in step")
	require.Contains(t, out, "state_dir "+s.state+": writable")

	require.NoError(t, os.Remove(filepath.Join(s.spool, "conf", "edited.conf")))
	require.NoError(t, os.Remove(filepath.Join(s.spool, "md5", "edited.md5")))
	before = tree(t, site)
	out, _, code = runCheck(t, s.config)
	require.Equal(t, 0, code, out)
	require.Equal(t, before, tree(t, site), "-check changed something:\n%s", out)
	require.Contains(t, out, "configuration: 0 to push, 0 to pull, 2 to remove (md5/edited.md5, conf/edited.conf); 2 in step")
}

func TestCheckAndOnceTogetherAreRefused(t *testing.T) {
	s := newSite(t)
	out, err := exec.Command(execd(t), "-config", s.config, "-check", "-once").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "-check and -once: use one of them")
}
