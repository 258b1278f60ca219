package tentaclesync

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
)

func TestVerifiedTransferCopiesThenMoves(t *testing.T) {
	r := startRemote(t, nil)
	want := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("agent%d.1.data", i)
		want[name] = agentFile(name)
		r.put(t, name, want[name])
	}
	p, log := newPlugin(t, r.addr())
	p.Transfer = "verified"
	require.NoError(t, p.Init())
	acc := gather(t, p)

	var total int64
	for _, data := range want {
		total += int64(len(data))
	}
	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_received": int64(5), "bytes_received": total,
	})
	require.Equal(t, want, spoolFiles(t, p.SpoolDir))
	for name := range want {
		requireMovedAway(t, filepath.Join(r.dir, name))
	}
	require.Empty(t, log.Warnings())
	require.Zero(t, p.reserved.Load())
}

// serveCopyThenMove answers LS, then RECV with recv and MV with the
// announced size and the bytes of mv (fewer bytes than announced break the
// connection, as a server that dies).
func serveCopyThenMove(t *testing.T, name, recv string, mvSize int, mv string) string {
	return scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\n"+name+"\n")
		answerFetch(conn, r, "RECV", len(recv), recv)
		answerFetch(conn, r, "MV", mvSize, mv)
		if len(mv) == mvSize {
			_, _ = r.ReadString('\n') // QUIT
		}
	})
}

func TestVerifiedTransferKeepsTheCopyWhenTheMoveBreaks(t *testing.T) {
	body := agentXML(strings.Repeat("x", 5000))
	addr := serveCopyThenMove(t, "a.1.data", body, len(body), body[:100])
	p, log := newPlugin(t, addr)
	p.Transfer = "verified"
	p.Retries = 0
	require.NoError(t, p.Init())
	acc := gather(t, p)

	m := metricFor(t, acc, addr)
	require.Equal(t, "connection_failed", m.Tags()["result"], "the server broke the connection")
	require.Equal(t, int64(1), m.Fields()["files_received"])
	require.Equal(t, int64(0), m.Fields()["files_failed"], "nothing is lost")
	require.Equal(t, map[string][]byte{"a.1.data": []byte(body)}, spoolFiles(t, p.SpoolDir), "the copy, and no partial file")
	require.Empty(t, log.Errors())
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "the copy is in the spool")
}

func TestVerifiedTransferKeepsBothVersionsWhenTheFileChanged(t *testing.T) {
	old, changed := agentXML("old"), agentXML("new")
	addr := serveCopyThenMove(t, "a.1.data", old, len(changed), changed)
	p, log := newPlugin(t, addr)
	p.ConfigSync = false // the script plays the data pull only
	p.Transfer = "verified"
	require.NoError(t, p.Init())
	acc := gather(t, p)

	require.Equal(t, "success", metricFor(t, acc, addr).Tags()["result"])
	require.Equal(t, map[string][]byte{"a.1.data": []byte(old), "a.1.1.data": []byte(changed)}, spoolFiles(t, p.SpoolDir))
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], `changed on the server between the copy and the move; both versions are kept: the copy as "a.1.data", the moved one as "a.1.1.data"`)
}

// A file of another size at the MV is being rewritten (a 0-byte one is an
// upload in progress): taking it would delete the new version.
func TestVerifiedTransferLeavesAFileThatChangedSizeOnTheServer(t *testing.T) {
	old := agentXML("old")
	for name, size := range map[string]int{"grown": len(old) + 2, "uploading again": 0} {
		t.Run(name, func(t *testing.T) {
			addr := serveCopyThenMove(t, "a.1.data", old, size, strings.Repeat("n", size))
			p, log := newPlugin(t, addr)
			p.Transfer = "verified"
			require.NoError(t, p.Init())
			acc := gather(t, p)

			m := metricFor(t, acc, addr)
			require.Equal(t, "success", m.Tags()["result"])
			require.Equal(t, int64(1), m.Fields()["files_received"])
			require.Equal(t, map[string][]byte{"a.1.data": []byte(old)}, spoolFiles(t, p.SpoolDir))
			require.Empty(t, log.Warnings())
			require.Empty(t, log.Errors())
		})
	}
}

// An idle close between the copy and the move: only the move is tried
// again, so the file arrives once.
func TestVerifiedTransferRetriesOnlyTheMoveAfterAHangUp(t *testing.T) {
	body := agentXML("data")
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) == 1 {
			answerLS(conn, r, ".\n..\na.1.data\n")
			answerFetch(conn, r, "RECV", len(body), body)
			_, _ = r.ReadString('\n') // MV <a.1.data>: hang up, as on an idle close
			return
		}
		if line, _ := r.ReadString('\n'); line != "MV <a.1.data>\n" {
			return // a second copy would fail the test: no answer, a timeout
		}
		fmt.Fprintf(conn, "MV SIZE %d\n", len(body))
		_, _ = r.ReadString('\n')
		_, _ = io.WriteString(conn, body)
		answerProbe(conn, r)
		_, _ = r.ReadString('\n') // QUIT
	})
	p, _ := newPlugin(t, addr)
	p.ConfigSync = false // the script plays the data pull only
	p.Transfer = "verified"
	p.Timeout = config.Duration(time.Second)
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(1), "bytes_received": int64(len(body)),
	})
	require.Equal(t, map[string][]byte{"a.1.data": []byte(body)}, spoolFiles(t, p.SpoolDir))
}

func TestVerifiedTransferLosesNothingWhenTheCopyBreaks(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\n")
		answerFetch(conn, r, "RECV", 5000, strings.Repeat("x", 100))
	})
	p, log := newPlugin(t, addr)
	p.Transfer = "verified"
	p.Retries = 0
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "connection_failed", 1, map[string]any{
		"files_failed": int64(1), "backlog_files": int64(1),
	})
	require.Empty(t, spoolFiles(t, p.SpoolDir), "no partial file")
	require.Empty(t, log.Errors(), "nothing is lost: the server keeps the file")
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "RECV <a.1.data>: transfer broke after 100 of 5000 bytes")
}
