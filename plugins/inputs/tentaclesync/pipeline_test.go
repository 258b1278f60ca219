package tentaclesync

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
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
		fmt.Fprintf(conn, "MV SIZE %d\n", len(agentXML("aaaa")))
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, agentXML("aaaa"))
		answerProbe(conn, r)
		_, _ = r.ReadString('\n') // MV <b.1.data>
		fmt.Fprintf(conn, "MV SIZE %d\n", len(agentXML("bbbb")))
		if line, _ := r.ReadString('\n'); line == "MV OK\n" {
			a, _ := os.ReadFile(filepath.Join(spoolDir, "a.1.data"))
			seenAtMVOK <- a
		}
		_, _ = io.WriteString(conn, agentXML("bbbb"))
		answerProbe(conn, r)
		_, _ = r.ReadString('\n') // QUIT
	})
	p, _ := newPlugin(t, addr)
	p.SpoolDir = spoolDir
	p.Connections = 1
	require.NoError(t, p.Init())
	acc := gather(t, p)
	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(2), "bytes_received": int64(2 * len(agentXML("aaaa"))),
	})
	require.Equal(t, agentXML("aaaa"), string(<-seenAtMVOK), "a.1.data was in the spool when b.1.data was taken")
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("aaaa")), "b.1.data": []byte(agentXML("bbbb"))}, spoolFiles(t, spoolDir))
}

// holdCommit makes the commit of the named file run hold before it.
func holdCommit(t *testing.T, name string, hold func()) {
	t.Cleanup(func() { beforeCommit = func(string) {} })
	beforeCommit = func(n string) {
		if n == name {
			hold()
		}
	}
}

// A commit slower than the server's idle close: the next MV answer is not
// held until the server hangs up (which would look like a lost file); the
// file is asked for again on a fresh connection.
func TestSlowCommitDoesNotLookLikeALostFile(t *testing.T) {
	r := startRemote(t, func(c *server.Config) {
		c.Timeout, c.Retries = 200*time.Millisecond, 1 // idle close after 0.4 s
	})
	for _, name := range []string{"a.1.data", "b.1.data", "c.1.data"} {
		r.put(t, name, []byte(agentXML(name)))
	}
	p, log := newPlugin(t, r.addr())
	p.Connections = 1
	require.NoError(t, p.Init())
	holdCommit(t, "a.1.data", func() { time.Sleep(1500 * time.Millisecond) })
	acc := gather(t, p)

	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_received": int64(3), "bytes_received": int64(3 * len(agentXML("a.1.data"))),
	})
	require.Empty(t, log.Errors())
	require.Len(t, spoolFiles(t, p.SpoolDir), 3)
}

// A Stop while the previous file is being committed: the next file, whose
// MV is already asked for, is not taken.
func TestStopDuringACommitTakesNoMoreFiles(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", []byte(agentXML("a")))
	r.put(t, "b.1.data", []byte(agentXML("b")))
	p, _ := newPlugin(t, r.addr())
	p.Connections = 1
	require.NoError(t, p.Init())
	holdCommit(t, "a.1.data", func() {
		p.stop()                           // what Stop does first; Stop itself waits for the gather
		time.Sleep(100 * time.Millisecond) // the MV of b.1.data is asked for
	})
	acc := gather(t, p)

	m := metricFor(t, acc, r.addr())
	require.Equal(t, int64(1), m.Fields()["files_received"])
	require.Equal(t, int64(1), m.Fields()["backlog_files"])
	require.FileExists(t, filepath.Join(r.dir, "b.1.data"), "left on the server")
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("a"))}, spoolFiles(t, p.SpoolDir))
}
