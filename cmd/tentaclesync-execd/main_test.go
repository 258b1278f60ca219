package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/gobuild"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// These tests run the real binary, built once, the way Telegraf's execd
// runs it.

var binary = gobuild.Once("tentaclesync-execd", raceEnabled)

// execd is the built binary.
func execd(t *testing.T) string { return binary.Path(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Remove()
	os.Exit(code)
}

// site is an isolated network's Tentacle server with TLS, client
// certificates and a password, and the central side's configuration for it.
type site struct {
	remote, spool, state, config string
	addr                         string
	files                        map[string][]byte
}

func newSite(t *testing.T) *site {
	t.Helper()
	return newSiteWithPassword(t, "p@ss w0rd", `"p@ss w0rd"`)
}

// newSiteWithPassword is newSite with the server's password, and the TOML
// value the configuration gives for it.
func newSiteWithPassword(t *testing.T, password, passwordTOML string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{remote: filepath.Join(dir, "remote"), spool: filepath.Join(dir, "data_in"), state: filepath.Join(dir, "state"), files: map[string][]byte{}}
	require.NoError(t, os.MkdirAll(filepath.Join(s.remote, "conf"), 0o755))
	require.NoError(t, os.MkdirAll(s.spool, 0o755))
	certs, err := testcerts.Write(dir, "site")
	require.NoError(t, err)
	filters, err := server.ParseFilters(server.PandoraFilters)
	require.NoError(t, err)
	srv, err := server.Start("127.0.0.1:0", server.Config{
		Dir: s.remote, Password: password, TLSConfig: certs.ServerConfig(true),
		Insecure: true, Overwrite: true, Filters: filters, MaxSize: 8 << 20,
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	s.addr = srv.Addr()
	s.config = filepath.Join(dir, "tentaclesync.conf")
	writeConfig(t, s.config, fmt.Sprintf(`
  servers = [%q]
  spool_dir = %q
  state_dir = %q
  password = %s
  tls_ca = %q
  tls_cert = %q
  tls_key = %q
  timeout = "5s"
  min_file_age = "0s"
`, s.addr, s.spool, s.state, passwordTOML, certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile))
	return s
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte("[[inputs.tentaclesync]]"+body), 0o600))
}

// seed puts random files on the remote side, with sizes around the server's
// 1 KiB write and the client's 64 KiB buffer; each ends as an agent data
// file does, so that it is whole.
func (s *site) seed(t *testing.T, prefix string, sizes ...int) {
	t.Helper()
	for i, size := range sizes {
		name := fmt.Sprintf("%s-agent%02d.%d.data", prefix, i, 1700000000+i)
		data := make([]byte, size-len(agentDataEnd))
		_, _ = rand.Read(data)
		data = append(data, agentDataEnd...)
		require.NoError(t, os.WriteFile(filepath.Join(s.remote, name), data, 0o644))
		s.files[name] = data
	}
}

// requireSpoolHoldsExactly checks every byte of every file, and that
// nothing else is there.
func (s *site) requireSpoolHoldsExactly(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(s.spool)
	require.NoError(t, err)
	got := map[string][]byte{}
	for _, e := range entries {
		if e.Name() == spool.PullLockDir {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.spool, e.Name()))
		require.NoError(t, err)
		got[e.Name()] = data
	}
	require.Equal(t, len(s.files), len(got))
	for name, data := range s.files {
		require.True(t, bytes.Equal(data, got[name]), "%s differs", name)
	}
}

func parse(t *testing.T, lines []byte) []telegraf.Metric {
	t.Helper()
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse(lines)
	require.NoError(t, err)
	return metrics
}

func requireSync(t *testing.T, m telegraf.Metric, addr, result string, files int64) {
	t.Helper()
	require.Equal(t, "tentaclesync", m.Name())
	require.Equal(t, map[string]string{"server": addr, "result": result}, m.Tags())
	require.Equal(t, files, m.Fields()["files_received"])
}

// agentDataEnd ends every agent data file: a copy without it is not whole.
const agentDataEnd = "</agent_data>\n"

var sizes = []int{len(agentDataEnd), 1023, 1024, 1025, 4096, 65535, 65536, 65537, 300 << 10, 5 << 20}

func TestOnceAgainstTLSAndPassword(t *testing.T) {
	s := newSite(t)
	s.seed(t, "site", sizes...)
	metric, log := runOnce(t, s.config)
	requireSync(t, metric, s.addr, "success", int64(len(sizes)))
	s.requireSpoolHoldsExactly(t)
	require.NotContains(t, log, "p@ss w0rd")
}

// A single run sees each file first: it lists again once they have
// settled, so -once still takes them.
func TestOnceTakesFilesOnceTheyHaveSettled(t *testing.T) {
	s := newSite(t)
	s.seed(t, "site", sizes[:3]...)
	config, err := os.ReadFile(s.config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.config, bytes.Replace(config, []byte(`min_file_age = "0s"`), []byte(`min_file_age = "1s"`), 1), 0o600))
	metric, _ := runOnce(t, s.config)
	requireSync(t, metric, s.addr, "success", 3)
	s.requireSpoolHoldsExactly(t)
}

// runOnce runs the binary with -once, wants it to succeed, and returns its
// one metric and its log.
func runOnce(t *testing.T, config string) (telegraf.Metric, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(execd(t), "-config", config, "-once")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	metrics := parse(t, stdout.Bytes())
	require.Len(t, metrics, 1)
	return metrics[0], stderr.String()
}

func TestOnceExitsOneWhenAServerFails(t *testing.T) {
	s := newSite(t)
	s.seed(t, "site", 30, 40)
	writeConfig(t, s.config, fmt.Sprintf(`
  servers = ["127.0.0.1:1", %q]
  spool_dir = %q
  state_dir = %q
  retries = 0
  password = "p@ss w0rd"
  tls_enable = true
  insecure_skip_verify = true
`, s.addr, s.spool, s.state))
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(execd(t), "-config", s.config, "-once")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())

	results := map[string]string{}
	for _, m := range parse(t, stdout.Bytes()) {
		results[m.Tags()["server"]] = m.Tags()["result"]
	}
	// Without a client certificate the server refuses the TLS session.
	require.Equal(t, map[string]string{"127.0.0.1:1": "connection_failed", s.addr: "tls_failed"}, results)
	require.Contains(t, stderr.String(), "127.0.0.1:1")
}

// seedConfig puts an agent's first-contact configuration on the remote
// side and a console-edited one in the central spool.
func (s *site) seedConfig(t *testing.T) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(s.remote, "md5"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(s.remote, "conf", "agent.conf"), []byte("agent_name a\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(s.remote, "md5", "agent.md5"), []byte("a-md5"), 0o644))
	for rel, data := range map[string]string{"conf/edited.conf": "agent_name e\n", "md5/edited.md5": "e-md5"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(s.spool, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(s.spool, rel), []byte(data), 0o644))
	}
}

func TestConfigAcrossTheGapSurvivesARestart(t *testing.T) {
	s := newSite(t)
	s.seedConfig(t)
	once := func() map[string]any {
		t.Helper()
		metric, _ := runOnce(t, s.config)
		require.Equal(t, "success", metric.Tags()["result"])
		return metric.Fields()
	}

	fields := once()
	require.Equal(t, int64(2), fields["config_files_sent"])
	require.Equal(t, int64(2), fields["config_files_received"])
	got, err := os.ReadFile(filepath.Join(s.remote, "conf", "edited.conf"))
	require.NoError(t, err)
	require.Equal(t, "agent_name e\n", string(got))
	got, err = os.ReadFile(filepath.Join(s.spool, "conf", "agent.conf"))
	require.NoError(t, err)
	require.Equal(t, "agent_name a\n", string(got))

	fields = once()
	require.Equal(t, int64(0), fields["config_files_sent"], "a new process remembers what it pushed")
	require.Equal(t, int64(0), fields["config_files_received"])
}

func TestBadConfigExitsWithTheKey(t *testing.T) {
	config := filepath.Join(t.TempDir(), "bad.conf")
	writeConfig(t, config, "\n  servers = [\"h:99999\"]\n  spool_dir = \"/\"\n")
	out, err := exec.Command(execd(t), "-config", config, "-once").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `servers: bad port in "h:99999"`)
}

func TestStdinSignal(t *testing.T) {
	s := newSite(t)
	s.seed(t, "first", sizes[:5]...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, execd(t), "-config", s.config, "-poll_interval_disabled")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewReader(stdout)

	signal := func() telegraf.Metric {
		t.Helper()
		_, err := io.WriteString(stdin, "\n")
		require.NoError(t, err)
		line, err := lines.ReadBytes('\n')
		require.NoError(t, err, stderr.String())
		metrics := parse(t, line)
		require.Len(t, metrics, 1)
		return metrics[0]
	}

	requireSync(t, signal(), s.addr, "success", 5)
	s.requireSpoolHoldsExactly(t)

	s.seed(t, "second", sizes[5:]...)
	requireSync(t, signal(), s.addr, "success", int64(len(sizes)-5))
	s.requireSpoolHoldsExactly(t)

	requireSync(t, signal(), s.addr, "success", 0)

	require.NoError(t, stdin.Close())
	err = cmd.Wait()
	require.NoError(t, err, "closing stdin ends the process cleanly: %s", stderr.String())
	require.False(t, errors.Is(ctx.Err(), context.DeadlineExceeded))
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
