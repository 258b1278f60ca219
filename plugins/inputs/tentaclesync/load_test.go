package tentaclesync

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
)

// 50 sites, 5 of them down or hung, and a backlog of 200 files each that
// max_files_per_gather drains over 20 gathers: every file of the live sites
// arrives exactly once, and each gather gives back every goroutine and file
// descriptor it took.
func TestLoadFiftyServersTwentyGathers(t *testing.T) {
	const (
		live, refusing, stalling = 45, 2, 3
		perServer, perGather     = 200, 10
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
	for range stalling {
		servers = append(servers, scripted.Serve(t, waitForMore))
	}
	// Last: no listener of this test can get these ports back.
	for range refusing {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		servers = append(servers, ln.Addr().String())
		ln.Close()
	}

	p, _ := newPlugin(t, servers...)
	// The data pull alone. Under the race detector on 2 loaded cores this
	// test is near its 2 s edge; the configuration sync's extra connection
	// per server made it fail more often (3 runs in 7, against none in 3).
	p.ConfigSync = false
	// Each gather waits this long for the hung servers; the live ones must
	// not come near it even on a loaded machine with the race detector.
	p.Timeout = config.Duration(2 * time.Second)
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
		require.Equal(t, map[string]int{"success": live, "connection_failed": refusing, "timeout": stalling}, results,
			"gather %d: %v", g, acc.Errors)
		requireNoLeak(t, goroutines, fds)
	}

	entries, err := os.ReadDir(p.SpoolDir)
	require.NoError(t, err)
	require.Len(t, entries, len(want), "exactly once: no copy (a.1.data) and none missing")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(p.SpoolDir, e.Name()))
		require.NoError(t, err)
		require.Equal(t, want[e.Name()], data, e.Name())
	}
}
