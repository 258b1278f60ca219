package tentaclesync

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
)

// serveSlowBody lists a.1.data and b.1.data and sends the first file's body
// one byte every tick, after closing started. drip bytes are sent in all,
// of the size announced.
// serveSlowBody announces a whole agent data file of size bytes and sends
// drip bytes of it, one each tick.
func serveSlowBody(t *testing.T, cmd string, size, drip int, tick time.Duration, started chan<- struct{}) string {
	body := agentXML(strings.Repeat("x", size-len(agentXML(""))))
	var once sync.Once // a later connection (the check of a cut file) starts nothing
	return scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\nb.1.data\n")
		_, _ = r.ReadString('\n') // <cmd> <a.1.data>
		_, _ = io.WriteString(conn, cmd+" SIZE "+strconv.Itoa(size)+"\n")
		_, _ = r.ReadString('\n') // <cmd> OK
		once.Do(func() { close(started) })
		for i := range drip {
			if _, err := io.WriteString(conn, body[i:i+1]); err != nil {
				return
			}
			time.Sleep(tick)
		}
		answerProbe(conn, r)
		_, _ = r.ReadString('\n') // QUIT: never MV <b.1.data>
	})
}

func gatherAndStop(t *testing.T, p *TentacleSync, started <-chan struct{}) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	done := make(chan error)
	go func() { done <- p.Gather(&acc) }()
	<-started
	p.Stop()
	require.NoError(t, <-done)
	return &acc
}

func TestStopLetsTheFileInFlightFinishAndTakesNoMore(t *testing.T) {
	started := make(chan struct{})
	size := len(agentXML("x"))
	addr := serveSlowBody(t, "MV", size, size, 20*time.Millisecond, started)
	p, log := newPlugin(t, addr)
	p.Connections = 1
	require.NoError(t, p.Init()) // timeout 5s: ample grace for 0.6 s of body
	acc := gatherAndStop(t, p, started)

	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(1), "bytes_received": int64(size), "backlog_files": int64(1),
	})
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("x"))}, spoolFiles(t, p.SpoolDir))
	require.Empty(t, log.Errors())

	acc = gather(t, p)
	require.Empty(t, acc.GetTelegrafMetrics(), "a stopped plugin starts no sync")
}

func TestStopCutsAStalledFileAfterTheTimeoutAndLeavesNoPartialFile(t *testing.T) {
	for _, transfer := range []string{"move", "verified"} {
		t.Run(transfer, func(t *testing.T) {
			cmd := map[string]string{"move": "MV", "verified": "RECV"}[transfer]
			started := make(chan struct{})
			// 10 MiB get a body deadline of 11 s: the stop cuts first.
			addr := serveSlowBody(t, cmd, 10<<20, 1000, 50*time.Millisecond, started)
			p, log := newPlugin(t, addr)
			p.Connections = 1
			p.Transfer = transfer
			p.Timeout = config.Duration(time.Second)
			require.NoError(t, p.Init())
			acc := gatherAndStop(t, p, started)

			m := metricFor(t, acc, addr)
			require.Equal(t, "success", m.Tags()["result"], "stopping is not the server's failure")
			require.Equal(t, int64(0), m.Fields()["files_received"])
			require.Empty(t, spoolFiles(t, p.SpoolDir), "no partial file, no temporary file")
			require.Empty(t, log.Errors(), "the server still lists the file: nothing is lost")
			if transfer == "move" {
				require.Equal(t, int64(1), m.Fields()["files_failed"])
				require.Len(t, log.Warnings(), 1)
				require.Contains(t, log.Warnings()[0], "the file is still on the server and comes at the next gather")
			}
		})
	}
}
