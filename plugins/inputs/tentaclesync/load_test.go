package tentaclesync

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
)

// 50 sites, 5 of them down (refusing, or hanging up at once), and a backlog
// of 200 files each that max_files_per_gather drains over 20 gathers: every
// file of the live sites arrives exactly once, and each gather gives back
// every goroutine and file descriptor it took. A hung site would cost each
// gather its timeout, and a timeout short enough for 20 gathers in a test
// is one a loaded machine's fsyncs can reach: stalls are in the hostile
// server test instead, which uses the same leak check.
func TestLoadFiftyServersTwentyGathers(t *testing.T) {
	const (
		live, refusing, hangingUp = 45, 3, 2
		perServer, perGather      = 200, 10
	)
	want := map[string][]byte{}
	var servers []string
	for i := range live {
		r := startRemote(t, nil)
		for j := range perServer {
			name := fmt.Sprintf("site%02d-agent%03d.%d.data", i, j, 1700000000+j)
			want[name] = agentFile(name)
			r.put(t, name, want[name])
		}
		servers = append(servers, r.addr())
	}
	for range hangingUp {
		servers = append(servers, scripted.Serve(t, func(net.Conn, *bufio.Reader) {}))
	}
	// Last: no listener of this test can get these ports back.
	for range refusing {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		servers = append(servers, ln.Addr().String())
		ln.Close()
	}

	p, _ := newPlugin(t, servers...)
	p.Retries = 0
	p.MaxFilesPerGather = perGather
	require.NoError(t, p.Init())
	goroutines, fds := runtime.NumGoroutine(), openFiles(t)

	for g := range perServer / perGather {
		acc := gather(t, p)
		results := map[string]int{}
		for _, m := range acc.GetTelegrafMetrics() {
			results[m.Tags()["result"]]++
			if m.Tags()["result"] == "success" {
				require.Equal(t, int64(perGather), m.Fields()["files_received"])
				require.Equal(t, int64(perServer-perGather*(g+1)), m.Fields()["backlog_files"])
			}
		}
		require.Equal(t, map[string]int{"success": live, "connection_failed": refusing, "protocol_error": hangingUp}, results,
			"gather %d: %v", g, acc.Errors)
		requireNoLeak(t, goroutines, fds)
	}

	got := spoolFiles(t, p.SpoolDir)
	require.Len(t, got, len(want), "exactly once: no copy (a.1.data) and none missing")
	for name, data := range got {
		require.Equal(t, want[name], data, name)
	}
}
