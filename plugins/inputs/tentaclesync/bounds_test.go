package tentaclesync

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

// Each bound takes its edge and refuses one step past it, naming the key.
func TestInitBounds(t *testing.T) {
	for _, tc := range []struct {
		key       string
		edge, out func(*TentacleSync)
	}{
		{"timeout", func(p *TentacleSync) { p.Timeout = config.Duration(time.Hour) },
			func(p *TentacleSync) { p.Timeout = config.Duration(time.Hour + 1) }},
		{"retries", func(p *TentacleSync) { p.Retries = 10 }, func(p *TentacleSync) { p.Retries = 11 }},
		{"min_file_age", func(p *TentacleSync) { p.MinFileAge = config.Duration(24 * time.Hour) },
			func(p *TentacleSync) { p.MinFileAge = config.Duration(24*time.Hour + 1) }},
		{"max_files_per_gather", func(p *TentacleSync) { p.MaxFilesPerGather = 1_000_000 },
			func(p *TentacleSync) { p.MaxFilesPerGather = 1_000_001 }},
		{"max_file_size", func(p *TentacleSync) { p.MaxFileSize = 1 << 40 },
			func(p *TentacleSync) { p.MaxFileSize = 1<<40 + 1 }},
		{"pandora_agent_interval", func(p *TentacleSync) { p.PandoraAgentInterval = config.Duration(time.Second) },
			func(p *TentacleSync) { p.PandoraAgentInterval = config.Duration(time.Second - 1) }},
		{"pandora_agent_interval", func(p *TentacleSync) { p.PandoraAgentInterval = config.Duration(24 * time.Hour) },
			func(p *TentacleSync) { p.PandoraAgentInterval = config.Duration(24*time.Hour + 1) }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			p, _ := newPlugin(t, "127.0.0.1")
			tc.edge(p)
			require.NoError(t, p.Init())
			p.Stop()
			p, _ = newPlugin(t, "127.0.0.1")
			tc.out(p)
			require.ErrorContains(t, p.Init(), tc.key+": must be")
		})
	}
}
