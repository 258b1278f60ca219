package tentaclesync

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// benchAgents puts n agents' conf (2 KiB) and md5 files on both sides, in
// step, with no state yet.
func benchAgents(b *testing.B, n int) *TentacleSync {
	r := startRemote(b, nil)
	p, _ := newPlugin(b, r.addr())
	p.Log = testutil.Logger{Quiet: true}
	require.NoError(b, p.Init())
	for i := range n {
		conf := fmt.Sprintf("agent_name host%05d\n%s", i, strings.Repeat("#", 2048))
		md5 := fmt.Sprintf("%032x", i)
		for rel, data := range map[string]string{fmt.Sprintf("conf/%05d.conf", i): conf, fmt.Sprintf("md5/%05d.md5", i): md5} {
			putCentral(b, p, rel, data)
			r.put(b, rel, []byte(data))
		}
	}
	// Files changed within racyWindow are read every time; a real console
	// edits a few files now and then.
	time.Sleep(racyWindow)
	return p
}

func gatherSentNothing(b *testing.B, p *TentacleSync) {
	var acc testutil.Accumulator
	require.NoError(b, p.Gather(&acc))
	m := acc.GetTelegrafMetrics()[0]
	require.Equal(b, int64(0), m.Fields()["config_files_sent"])
	require.Equal(b, int64(0), m.Fields()["config_files_failed"])
}

// BenchmarkConfigSyncInStep is a gather when 1,000 agents' configuration is
// already in step: list, hash the central files, compare with the state.
func BenchmarkConfigSyncInStep(b *testing.B) {
	p := benchAgents(b, 1000)
	gatherSentNothing(b, p)
	for b.Loop() {
		gatherSentNothing(b, p)
	}
}

// BenchmarkConfigSyncFirstRun is the first gather against a server that
// already holds the same 1,000 agents' files: every md5 file is read back.
func BenchmarkConfigSyncFirstRun(b *testing.B) {
	p := benchAgents(b, 1000)
	for b.Loop() {
		b.StopTimer()
		require.NoError(b, os.RemoveAll(p.StateDir))
		require.NoError(b, os.Mkdir(p.StateDir, 0o750))
		b.StartTimer()
		gatherSentNothing(b, p)
	}
}
