package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/spool"
)

// Telegraf ends an execd input by closing its stdin (signal = "STDIN") or
// with SIGTERM, and kills it 5 s later. A transfer that would take 2 minutes
// (64 MiB announced, with timeout 2s per MiB) or never end must not
// keep the process past its timeout, nor leave a partial file.
func TestEndingMidTransferLeavesNoPartialFile(t *testing.T) {
	for name, end := range map[string]func(*exec.Cmd, io.Closer) error{
		"SIGTERM":     func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Signal(syscall.SIGTERM) },
		"stdin close": func(_ *exec.Cmd, stdin io.Closer) error { return stdin.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
				_, _ = r.ReadString('\n') // LS <>
				_, _ = io.WriteString(conn, "LS SIZE 9\n")
				_, _ = r.ReadString('\n') // LS OK
				_, _ = io.WriteString(conn, "a.1.data\n")
				_, _ = r.ReadString('\n') // MV <a.1.data>
				_, _ = io.WriteString(conn, "MV SIZE 67108864\n")
				_, _ = r.ReadString('\n') // MV OK
				started <- struct{}{}
				for {
					if _, err := io.WriteString(conn, "x"); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
			dir := t.TempDir()
			spoolDir := filepath.Join(dir, "data_in")
			require.NoError(t, os.Mkdir(spoolDir, 0o755))
			leftover := filepath.Join(spoolDir, spool.TempPrefix+"ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp")
			require.NoError(t, os.WriteFile(leftover, []byte("half a fi"), 0o644))
			config := filepath.Join(dir, "tentaclesync.conf")
			writeConfig(t, config, fmt.Sprintf("\n  servers = [%q]\n  spool_dir = %q\n  state_dir = %q\n  timeout = \"2s\"\n  min_file_age = \"0s\"\n",
				addr, spoolDir, filepath.Join(dir, "state")))

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, execd(t), "-config", config, "-poll_interval_disabled")
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			var stdout, stderr lockedBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			_, err = io.WriteString(stdin, "\n")
			require.NoError(t, err)
			<-started
			require.NoError(t, end(cmd, stdin))

			require.NoError(t, cmd.Wait(), "a clean exit, not the test's kill: %s", stderr.String())
			entries, err := os.ReadDir(spoolDir)
			require.NoError(t, err)
			entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == spool.PullLockDir })
			require.Empty(t, entries, "the crash leftover is gone and no partial file is left")
			require.Contains(t, stderr.String(), "removed "+filepath.Base(leftover))
			require.Contains(t, stderr.String(), `the transfer of "a.1.data" broke`, "the cut MV is reported")
			require.Contains(t, stderr.String(), "the file is still on the server", "and checked")
			metrics := parse(t, []byte(stdout.String()))
			require.Len(t, metrics, 1, "the interrupted gather still reports")
			require.Equal(t, int64(1), metrics[0].Fields()["files_failed"])
			require.True(t, strings.HasPrefix(metrics[0].Tags()["server"], "127.0.0.1:"))
		})
	}
}
