package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersion(t *testing.T) {
	out, err := exec.Command(execd(t), "-version").Output()
	require.NoError(t, err)
	require.Regexp(t, `^tentaclesync-execd (devel|v\S+)\n$`, string(out))

	stamped := filepath.Join(t.TempDir(), "tentaclesync-execd")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3-test", "-o", stamped, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	out, err = exec.Command(stamped, "-version").Output()
	require.NoError(t, err)
	require.Equal(t, "tentaclesync-execd v1.2.3-test\n", string(out))
}

func TestDebugShowsDebugLines(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "tentaclesync.conf")
	writeConfig(t, config, fmt.Sprintf("\n  servers = [\"127.0.0.1:1\"]\n  spool_dir = %q\n  state_dir = %q\n  retries = 1\n",
		dir, filepath.Join(dir, "state")))
	run := func(args ...string) string {
		t.Helper()
		var stderr bytes.Buffer
		cmd := exec.Command(execd(t), append([]string{"-config", config, "-once"}, args...)...)
		cmd.Stderr = &stderr
		require.Error(t, cmd.Run(), "the server is down")
		return stderr.String()
	}
	require.Contains(t, run("-debug"), "D! 127.0.0.1:1: connection attempt 1 failed")
	require.NotContains(t, run(), "connection attempt 1 failed")
}
