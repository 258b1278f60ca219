package tentaclesync

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
)

// The previous file's commit runs while the next MV is asked for, but the
// next file is not taken ("MV OK", after which the server deletes it) before
// the previous one is in the spool.
func TestNextFileIsTakenOnlyOnceThePreviousIsInTheSpool(t *testing.T) {
	spoolDir := t.TempDir()
	seenAtMVOK := make(chan []byte, 1)
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\nb.1.data\n")
		_, _ = r.ReadString('\n') // MV <a.1.data>
		_, _ = io.WriteString(conn, "MV SIZE 4\n")
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, "aaaa")
		_, _ = r.ReadString('\n') // MV <b.1.data>
		_, _ = io.WriteString(conn, "MV SIZE 4\n")
		if line, _ := r.ReadString('\n'); line == "MV OK\n" {
			a, _ := os.ReadFile(filepath.Join(spoolDir, "a.1.data"))
			seenAtMVOK <- a
		}
		_, _ = io.WriteString(conn, "bbbb")
		_, _ = r.ReadString('\n') // QUIT
	})
	p, _ := newPlugin(t, addr)
	p.SpoolDir = spoolDir
	p.Connections = 1
	require.NoError(t, p.Init())
	acc := gather(t, p)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{expected(addr, "success", 0, map[string]any{
		"files_received": int64(2), "bytes_received": int64(8),
	})}, acc.GetTelegrafMetrics(), testutil.IgnoreTime(), testutil.IgnoreFields("sync_time"))
	require.Equal(t, "aaaa", string(<-seenAtMVOK), "a.1.data was in the spool when b.1.data was taken")
	require.Equal(t, map[string][]byte{"a.1.data": []byte("aaaa"), "b.1.data": []byte("bbbb")}, spoolFiles(t, spoolDir))
}
