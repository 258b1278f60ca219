package main_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The built binary, with pandora_agent_name, leaves one agent data file
// beside the files it pulled, carrying its metric's values.
func TestOnceWritesTheSelfReport(t *testing.T) {
	s := newSite(t)
	s.seed(t, "site", sizes[:4]...)
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("  pandora_agent_name = \"tentaclesync-test\"\n  pandora_agent_interval = \"30s\"\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	metric, _ := runOnce(t, s.config)
	requireSync(t, metric, s.addr, "success", 4)

	reports, err := filepath.Glob(filepath.Join(s.spool, "tentaclesync-test.*.data"))
	require.NoError(t, err)
	require.Len(t, reports, 1)
	ok, err := filepath.Match("*.data", filepath.Base(reports[0]))
	require.NoError(t, err)
	require.True(t, ok)
	data, err := os.ReadFile(reports[0])
	require.NoError(t, err)
	var report struct {
		AgentName string `xml:"agent_name,attr"`
		Interval  string `xml:"interval,attr"`
		Modules   []struct {
			Name string `xml:"name"`
			Type string `xml:"type"`
			Data string `xml:"data"`
		} `xml:"module"`
	}
	require.NoError(t, xml.Unmarshal(data, &report), string(data))
	require.Equal(t, "tentaclesync-test", report.AgentName)
	require.Equal(t, "30", report.Interval)
	got := map[string]string{}
	for _, m := range report.Modules {
		got[m.Name] = m.Data
	}
	prefix := "tentaclesync " + s.addr + " "
	want := map[string]string{prefix + "ok": "1", prefix + "seconds_since_success": "0"}
	for _, field := range []string{"result_code", "files_received", "backlog_files", "files_failed"} {
		want[prefix+field] = strconv.FormatInt(metric.Fields()[field].(int64), 10)
	}
	syncTime, err := strconv.ParseFloat(got[prefix+"sync_time"], 64)
	require.NoError(t, err)
	require.InDelta(t, metric.Fields()["sync_time"].(float64), syncTime, 1e-9)
	delete(got, prefix+"sync_time")
	require.Equal(t, want, got)

	// Everything else in the spool is what was pulled, byte for byte.
	require.NoError(t, os.Remove(reports[0]))
	s.requireSpoolHoldsExactly(t)
}
