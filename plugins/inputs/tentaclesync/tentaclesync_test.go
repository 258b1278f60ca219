package tentaclesync

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// remote is a Go Tentacle server run the way an isolated network runs it:
// -I -o and Pandora's filters.
type remote struct {
	srv     *server.Server
	dir     string
	address string
	accepts atomic.Int64
}

func startRemote(t testing.TB, tweak func(*server.Config)) *remote {
	t.Helper()
	r := &remote{dir: t.TempDir()}
	for _, sub := range []string{"conf", "md5", "collections", "trans", "commands"} {
		require.NoError(t, os.Mkdir(filepath.Join(r.dir, sub), 0o755))
	}
	filters, err := server.ParseFilters(server.PandoraFilters)
	require.NoError(t, err)
	cfg := server.Config{Dir: r.dir, Insecure: true, Overwrite: true, Filters: filters}
	if tweak != nil {
		tweak(&cfg)
	}
	r.srv, err = server.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.address = ln.Addr().String()
	go func() { _ = r.srv.Serve(&countingListener{Listener: ln, n: &r.accepts}) }()
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *remote) addr() string { return r.address }

func (r *remote) put(t testing.TB, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, name), data, 0o644))
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// newPlugin is the plugin as Telegraf creates it, with a fresh spool.
func newPlugin(t testing.TB, servers ...string) (*TentacleSync, *testutil.CaptureLogger) {
	t.Helper()
	p := inputs.Inputs["tentaclesync"]().(*TentacleSync)
	log := &testutil.CaptureLogger{Name: "inputs.tentaclesync"}
	p.Servers = servers
	p.SpoolDir = t.TempDir()
	p.StateDir = t.TempDir()
	p.Timeout = config.Duration(5 * time.Second)
	// Files put on the test server are whole at once; the tests of
	// settling set it back.
	p.MinFileAge = 0
	p.Log = log
	t.Cleanup(p.Stop)
	return p, log
}

func gather(t *testing.T, p *TentacleSync) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	return &acc
}

// agentXML is a whole agent data file holding s: it ends with the closing
// element that the wholeness check looks for.
func agentXML(s string) string { return "<agent_data>" + s + "</agent_data>\n" }

func agentFile(name string) []byte {
	return fmt.Appendf(nil, "<?xml version='1.0'?>\n<agent_data agent_name='%s'>%s</agent_data>\n", name, strings.Repeat("<module/>", 50))
}

func spoolFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = data
	}
	return files
}

func metricFor(t *testing.T, acc *testutil.Accumulator, addr string) telegraf.Metric {
	t.Helper()
	for _, m := range acc.GetTelegrafMetrics() {
		if s, _ := m.GetTag("server"); s == addr {
			return m
		}
	}
	require.FailNow(t, "no metric for "+addr)
	return nil
}

// requireOnlyMetric wants acc to hold exactly the metric expected gives.
func requireOnlyMetric(t *testing.T, acc *testutil.Accumulator, addr, result string, code int64, fields map[string]any) {
	t.Helper()
	testutil.RequireMetricsEqual(t, []telegraf.Metric{expected(addr, result, code, fields)},
		acc.GetTelegrafMetrics(), testutil.IgnoreTime(), testutil.IgnoreFields("sync_time"))
}

// requireBusy wants acc to hold only the metric of a server skipped because
// another sync of it runs.
func requireBusy(t *testing.T, acc *testutil.Accumulator, addr string) {
	t.Helper()
	busy := testutil.MustMetric("tentaclesync", map[string]string{"server": addr, "result": "busy"},
		map[string]any{"result_code": int64(6)}, time.Unix(0, 0))
	testutil.RequireMetricsEqual(t, []telegraf.Metric{busy}, acc.GetTelegrafMetrics(), testutil.IgnoreTime())
}

func expected(addr, result string, code int64, fields map[string]any) telegraf.Metric {
	all := map[string]any{
		"files_received": int64(0), "bytes_received": int64(0), "files_skipped": int64(0),
		"files_failed": int64(0), "files_deferred": int64(0), "backlog_files": int64(0),
		"sync_time": float64(0), "result_code": code,
		"config_files_sent": int64(0), "config_bytes_sent": int64(0), "config_files_received": int64(0),
		"config_files_removed": int64(0), "config_files_failed": int64(0),
	}
	for k, v := range fields {
		all[k] = v
	}
	return testutil.MustMetric("tentaclesync", map[string]string{"server": addr, "result": result}, all, time.Unix(0, 0))
}

func TestSampleConfigsAreIdentical(t *testing.T) {
	top, err := os.ReadFile("../../../sample.conf")
	require.NoError(t, err)
	require.Equal(t, sampleConfig, string(top), "sample.conf at the top must match the plugin's")
}

func TestReadmeShowsTheSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	_, block, found := strings.Cut(string(readme), "```toml @sample.conf\n")
	require.True(t, found, "README.md has a toml @sample.conf block")
	block, _, found = strings.Cut(block, "```")
	require.True(t, found)
	require.Equal(t, sampleConfig, block)
}

func TestSampleConfigLoadsInTelegraf(t *testing.T) {
	// Uncomment every option so that each key is checked against the struct.
	var lines []string
	for line := range strings.Lines(sampleConfig) {
		if strings.HasPrefix(line, "  # ") && strings.Contains(line, " = ") {
			line = "  " + strings.TrimPrefix(line, "  # ")
		}
		lines = append(lines, line)
	}
	// Telegraf loads the TLS files while it parses: point at real ones.
	certs, err := testcerts.Write(t.TempDir(), "sample")
	require.NoError(t, err)
	data := strings.NewReplacer(
		"/etc/pandora/cacert.pem", certs.CAFile,
		"/etc/pandora/tentaclecert.pem", certs.ClientCertFile,
		"/etc/pandora/tentaclekey.pem", certs.ClientKeyFile,
	).Replace(strings.Join(lines, ""))
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(data), config.EmptySourcePath))
	require.Len(t, c.Inputs, 1)
	p := c.Inputs[0].Input.(*TentacleSync)
	require.Equal(t, []string{"10.142.50.10", "20.152.50.20:41121"}, p.Servers)
	require.Equal(t, "/var/spool/pandora/data_in", p.SpoolDir)
	require.Equal(t, config.Duration(10*time.Second), p.Timeout)
	require.Equal(t, 3, p.Retries)
	require.Equal(t, 4, p.Connections)
	require.Equal(t, []string{"*.data"}, p.Include)
	require.Equal(t, config.Size(64<<20), p.MaxFileSize)
	require.Equal(t, 10000, p.MaxFilesPerGather)
	require.True(t, p.ConfigSync)
	require.Equal(t, "/var/lib/tentaclesync", p.StateDir)
	require.Equal(t, certs.CAFile, p.TLSCA)
	require.Equal(t, "move", p.Transfer)
	require.Equal(t, freeSpace{percent: 5}, p.MinFreeSpace)
}

func TestMinFreeSpaceTakesBytesOrAPercent(t *testing.T) {
	for text, want := range map[string]freeSpace{
		`"5%"`:      {percent: 5},
		`"0.5 %"`:   {percent: 0.5},
		`"2GiB"`:    {bytes: 2 << 30},
		`"500MB"`:   {bytes: 500_000_000},
		`1048576`:   {bytes: 1 << 20},
		`"0"`:       {},
		`"1048576"`: {bytes: 1 << 20},
	} {
		p := loadConfig(t, "min_free_space = "+text)
		require.Equal(t, want, p.MinFreeSpace, text)
	}
	for _, text := range []string{`"100%"`, `"-1%"`, `"NaN%"`, `"lots"`, `"%"`, `"-5"`} {
		c := config.NewConfig()
		err := c.LoadConfigData([]byte("[[inputs.tentaclesync]]\nservers = [\"h\"]\nmin_free_space = "+text+"\n"), config.EmptySourcePath)
		require.ErrorContains(t, err, "min_free_space", text)
	}
	require.Equal(t, uint64(5_000), freeSpace{percent: 5}.of(100_000))
	require.Equal(t, uint64(7), freeSpace{bytes: 7}.of(100_000))
}

func loadConfig(t *testing.T, lines ...string) *TentacleSync {
	t.Helper()
	c := config.NewConfig()
	data := "[[inputs.tentaclesync]]\nservers = [\"h\"]\n" + strings.Join(lines, "\n") + "\n"
	require.NoError(t, c.LoadConfigData([]byte(data), config.EmptySourcePath))
	return c.Inputs[0].Input.(*TentacleSync)
}

func TestInitRejectsBadConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		tweak func(*TentacleSync)
		want  string
	}{
		"no servers":        {func(p *TentacleSync) { p.Servers = nil }, "servers"},
		"port zero":         {func(p *TentacleSync) { p.Servers = []string{"h:0"} }, `servers: bad port in "h:0"`},
		"port not a number": {func(p *TentacleSync) { p.Servers = []string{"h:abc"} }, "servers: bad port"},
		"port too big":      {func(p *TentacleSync) { p.Servers = []string{"h:70000"} }, "servers: bad port"},
		"empty host":        {func(p *TentacleSync) { p.Servers = []string{":41121"} }, "servers: bad host"},
		"listed twice":      {func(p *TentacleSync) { p.Servers = []string{"h", "h:41121"} }, "servers: h:41121 is listed twice"},
		"missing spool":     {func(p *TentacleSync) { p.SpoolDir = "/nonexistent/data_in" }, "spool_dir"},
		"spool is a file":   {func(p *TentacleSync) { p.SpoolDir = "tentaclesync.go" }, "spool_dir"},
		"cert without key":  {func(p *TentacleSync) { p.TLSCert = "cert.pem" }, "tls_cert and tls_key"},
		"key without cert":  {func(p *TentacleSync) { p.TLSKey = "key.pem" }, "tls_cert and tls_key"},
		"missing CA file":   {func(p *TentacleSync) { p.TLSCA = "/nonexistent/ca.pem" }, "tls"},
		"no connections":    {func(p *TentacleSync) { p.Connections = 0 }, "connections"},
		"11 connections":    {func(p *TentacleSync) { p.Connections = 11 }, "connections"},
		"bad pattern":       {func(p *TentacleSync) { p.Include = []string{"[a-"} }, "include"},
		"no pattern":        {func(p *TentacleSync) { p.Include = nil }, "include"},
		"negative retries":  {func(p *TentacleSync) { p.Retries = -1 }, "retries"},
		"zero timeout":      {func(p *TentacleSync) { p.Timeout = 0 }, "timeout"},
		"zero file size":    {func(p *TentacleSync) { p.MaxFileSize = 0 }, "max_file_size"},
		"negative bound":    {func(p *TentacleSync) { p.MaxFilesPerGather = -1 }, "max_files_per_gather"},
		"unknown transfer":  {func(p *TentacleSync) { p.Transfer = "copy" }, `transfer: must be "move" or "verified", got "copy"`},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := newPlugin(t, "10.0.0.1")
			tc.tweak(p)
			require.ErrorContains(t, p.Init(), tc.want)
		})
	}
}

func TestInitAddsTheDefaultPort(t *testing.T) {
	p, _ := newPlugin(t, "10.0.0.1", "tentacle.example:4000", "::1", "[fe80::1]", "[fe80::2]:5000")
	require.NoError(t, p.Init())
	var addrs []string
	for _, tgt := range p.targets {
		addrs = append(addrs, tgt.addr)
	}
	require.Equal(t, []string{"10.0.0.1:41121", "tentacle.example:4000", "[::1]:41121", "[fe80::1]:41121", "[fe80::2]:5000"}, addrs)
}

func TestGatherPullsDataFilesIntoTheSpool(t *testing.T) {
	r := startRemote(t, nil)
	want := map[string][]byte{}
	for i := range 20 {
		name := fmt.Sprintf("agent%02d.%d.data", i, 1700000000+i)
		want[name] = agentFile(name)
		r.put(t, name, want[name])
	}
	r.put(t, "uploading.1.data", nil)                          // an upload in progress
	r.put(t, "huge.1.data", bytes.Repeat([]byte("x"), 2000))   // above max_file_size
	r.put(t, "notes.txt", []byte("not ours"))                  // does not match include
	r.put(t, filepath.Join("conf", "abc.conf"), []byte("x=1")) // first contact: copied, and stays

	p, log := newPlugin(t, r.addr())
	p.MaxFileSize = 1500
	require.NoError(t, p.Init())
	acc := gather(t, p)

	var total int64
	for _, data := range want {
		total += int64(len(data))
	}
	requireOnlyMetric(t, acc, r.addr(), "success", 0, map[string]any{
		"files_received": int64(20), "bytes_received": total, "files_skipped": int64(2), "backlog_files": int64(2),
		"config_files_received": int64(1),
	})
	require.Empty(t, acc.Errors)
	require.Equal(t, want, spoolFiles(t, p.SpoolDir), "every byte of every file, and nothing else")

	for name := range want {
		requireMovedAway(t, filepath.Join(r.dir, name))
	}
	left, err := os.ReadDir(r.dir)
	require.NoError(t, err)
	var leftNames []string
	for _, e := range left {
		if !e.IsDir() {
			leftNames = append(leftNames, e.Name())
		}
	}
	require.ElementsMatch(t, []string{"uploading.1.data", "huge.1.data", "notes.txt"}, leftNames)
	require.FileExists(t, filepath.Join(r.dir, "conf", "abc.conf"))
	require.FileExists(t, filepath.Join(p.SpoolDir, "conf", "abc.conf"))
	require.GreaterOrEqual(t, r.accepts.Load(), int64(4), "files move over `connections` connections")
	require.Len(t, log.Warnings(), 1, "the oversized file is worth a warning")
	require.Contains(t, log.Warnings()[0], "huge.1.data")
}

func TestPlainTCPDeclineIsFollowedByAFreshConnection(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", nil) // declined: still uploading
	r.put(t, "b.1.data", []byte(agentXML("b")))
	r.put(t, "c.1.data", nil) // declined last: no connection is opened after it
	p, _ := newPlugin(t, r.addr())
	p.Connections = 1
	p.ConfigSync = false // it would count as one more connection
	require.NoError(t, p.Init())
	m := metricFor(t, gather(t, p), r.addr())
	require.Equal(t, "success", m.Tags()["result"])
	require.Equal(t, int64(1), m.Fields()["files_received"])
	require.Equal(t, int64(2), m.Fields()["files_skipped"])
	// On plain TCP the command after a decline could reach the server in the
	// same read and be swallowed with it; a fresh connection cannot.
	require.EqualValues(t, 2, r.accepts.Load())
}

func TestMaxFilesPerGatherLeavesABacklog(t *testing.T) {
	r := startRemote(t, nil)
	for i := range 5 {
		r.put(t, fmt.Sprintf("a.%d.data", i), []byte(agentXML("data")))
	}
	p, _ := newPlugin(t, r.addr())
	p.MaxFilesPerGather = 2
	require.NoError(t, p.Init())

	m := metricFor(t, gather(t, p), r.addr())
	require.Equal(t, map[string]any{"received": int64(2), "backlog": int64(3)},
		map[string]any{"received": m.Fields()["files_received"], "backlog": m.Fields()["backlog_files"]})
	m = metricFor(t, gather(t, p), r.addr())
	require.Equal(t, int64(1), m.Fields()["backlog_files"])
	require.Len(t, spoolFiles(t, p.SpoolDir), 4)
}

func TestExistingSpoolFileIsKept(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", []byte(agentXML("new")))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, os.WriteFile(filepath.Join(p.SpoolDir, "a.1.data"), []byte("old, not yet processed"), 0o644))
	require.NoError(t, p.Init())
	gather(t, p)
	require.Equal(t, map[string][]byte{"a.1.data": []byte("old, not yet processed"), "a.1.1.data": []byte(agentXML("new"))},
		spoolFiles(t, p.SpoolDir))
}

func TestFailuresAreReportedPerKind(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir(), "trusted")
	require.NoError(t, err)
	rogue, err := testcerts.Write(t.TempDir(), "rogue")
	require.NoError(t, err)

	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	silent := func(t *testing.T) string {
		return scripted.Serve(t, func(conn net.Conn, _ *bufio.Reader) { _, _ = io.Copy(io.Discard, conn) })
	}
	for name, tc := range map[string]struct {
		addr   func(t *testing.T) string
		tweak  func(p *TentacleSync)
		result string
		code   int64
	}{
		"nothing listens": {closedPort, nil, "connection_failed", 1},
		"certificate from another CA": {
			func(t *testing.T) string {
				return startRemote(t, func(c *server.Config) { c.TLSConfig = rogue.ServerConfig(false) }).addr()
			},
			func(p *TentacleSync) { p.TLSCA = certs.CAFile }, "tls_failed", 2},
		"client certificate missing": {
			func(t *testing.T) string {
				return startRemote(t, func(c *server.Config) { c.TLSConfig = certs.ServerConfig(true) }).addr()
			},
			func(p *TentacleSync) { p.TLSCA = certs.CAFile }, "tls_failed", 2},
		"wrong password": {
			func(t *testing.T) string {
				return startRemote(t, func(c *server.Config) { c.Password = "right" }).addr()
			},
			func(p *TentacleSync) { p.Password = config.NewSecret([]byte("wrong-pw-123")) }, "auth_failed", 3},
		"server never answers": {silent, func(p *TentacleSync) {
			p.Timeout = config.Duration(100 * time.Millisecond)
			p.Retries = 1
		}, "timeout", 4},
		"server without -I": {
			func(t *testing.T) string { return startRemote(t, func(c *server.Config) { c.Insecure = false }).addr() },
			nil, "protocol_error", 5},
		"garbage instead of an answer": {
			func(t *testing.T) string {
				return scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
					_, _ = r.ReadString('\n')
					_, _ = io.WriteString(conn, "220 smtp.example ESMTP\n")
				})
			}, nil, "protocol_error", 5},
	} {
		t.Run(name, func(t *testing.T) {
			addr := tc.addr(t)
			p, log := newPlugin(t, addr)
			p.Retries = 0
			if tc.tweak != nil {
				tc.tweak(p)
			}
			require.NoError(t, p.Init())
			acc := gather(t, p)
			requireOnlyMetric(t, acc, addr, tc.result, tc.code, nil)
			require.Len(t, acc.Errors, 1)
			require.Contains(t, acc.Errors[0].Error(), addr, "the error names the server")
			for _, msg := range append(log.Messages(), testutil.Entry{Text: acc.Errors[0].Error()}) {
				require.NotContains(t, msg.Text, "wrong-pw-123")
			}
			require.Empty(t, spoolFiles(t, p.SpoolDir))
		})
	}
}

func TestAFailingServerCostsAtMostTimeoutTimesTries(t *testing.T) {
	silent := scripted.Serve(t, func(conn net.Conn, _ *bufio.Reader) { _, _ = io.Copy(io.Discard, conn) })
	p, _ := newPlugin(t, silent)
	p.Timeout = config.Duration(500 * time.Millisecond)
	p.Retries = 2
	p.Password = config.NewSecret([]byte("pw")) // each attempt waits for PASS OK
	require.NoError(t, p.Init())
	m := metricFor(t, gather(t, p), silent)
	require.Equal(t, "timeout", m.Tags()["result"])
	// timeout × (retries + 1) = 1.5 s; the two pauses between attempts must
	// fit inside it, not add their 1 s to it. The slack is for a loaded
	// machine.
	require.Less(t, m.Fields()["sync_time"], 1.5+0.4)
}

func TestDeadServerDoesNotStopTheOthers(t *testing.T) {
	live := startRemote(t, nil)
	live.put(t, "a.1.data", []byte(agentXML("alive")))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()

	p, _ := newPlugin(t, dead, live.addr())
	p.Retries = 1
	require.NoError(t, p.Init())
	acc := gather(t, p)
	require.Len(t, acc.GetTelegrafMetrics(), 2)
	require.Equal(t, "connection_failed", metricFor(t, acc, dead).Tags()["result"])
	require.Equal(t, "success", metricFor(t, acc, live.addr()).Tags()["result"])
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("alive"))}, spoolFiles(t, p.SpoolDir))
}

// A transfer that breaks is "lost" only when a new look at the server no
// longer finds the file; otherwise it comes at the next gather.
func TestBrokenTransferIsCalledLostOnlyWhenTheFileIsGone(t *testing.T) {
	for name, tc := range map[string]struct {
		listedAfter string
		backlog     int64
		lost        bool
	}{
		"gone from the server": {".\n..\nnext.1.data\n", 1, true},
		"still on the server":  {".\n..\nbroken.1.data\nnext.1.data\n", 2, false},
	} {
		t.Run(name, func(t *testing.T) {
			var conns atomic.Int64
			addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
				if conns.Add(1) > 1 {
					answerLS(conn, r, tc.listedAfter)
					return
				}
				answerLS(conn, r, ".\n..\nbroken.1.data\nnext.1.data\n")
				answerFetch(conn, r, "MV", 1000, strings.Repeat("x", 300))
			})
			p, log := newPlugin(t, addr)
			p.Connections = 1
			p.Retries = 0
			require.NoError(t, p.Init())
			acc := gather(t, p)

			requireOnlyMetric(t, acc, addr, "connection_failed", 1, map[string]any{
				"files_failed": int64(1), "backlog_files": tc.backlog,
			})
			if tc.lost {
				require.Equal(t, map[string][]byte{"broken.1.data.incomplete": []byte(strings.Repeat("x", 300))}, spoolFiles(t, p.SpoolDir),
					"the bytes of a lost file are all there is: kept aside, never as broken.1.data")
				require.Len(t, log.Errors(), 1)
				require.Contains(t, log.Errors()[0], `"broken.1.data" is lost`)
				require.Contains(t, log.Errors()[0], "after 300 of 1000 bytes")
				require.Contains(t, log.Errors()[0], "the 300 bytes received are kept in")
				return
			}
			require.Empty(t, spoolFiles(t, p.SpoolDir), "no partial file, no temporary file: the server has the file")
			require.Empty(t, log.Errors())
			require.Len(t, log.Warnings(), 1)
			require.Contains(t, log.Warnings()[0], `the transfer of "broken.1.data" broke after 300 of 1000 bytes`)
			require.Contains(t, log.Warnings()[0], "still on the server and comes at the next gather")
		})
	}
}

func TestServerClosingBeforeAFileIsRetriedOnAFreshConnection(t *testing.T) {
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) == 1 {
			answerLS(conn, r, ".\n..\na.1.data\n")
			_, _ = r.ReadString('\n') // MV <a.1.data>: hang up, as on an idle close
			return
		}
		answerFetch(conn, r, "MV", len(agentXML("data")), agentXML("data"))
		_, _ = r.ReadString('\n') // QUIT
	})
	p, _ := newPlugin(t, addr)
	p.ConfigSync = false // the script plays the data pull only
	require.NoError(t, p.Init())
	acc := gather(t, p)
	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(1), "bytes_received": int64(len(agentXML("data"))),
	})
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("data"))}, spoolFiles(t, p.SpoolDir))
}

// answerFetch plays a server's side of one MV or RECV: it reads the
// command, announces size, reads the client's OK (or decline) and sends
// body, which may be shorter than size; after a whole body it answers the
// client's probe.
func answerFetch(conn net.Conn, r *bufio.Reader, cmd string, size int, body string) {
	_, _ = r.ReadString('\n')
	fmt.Fprintf(conn, "%s SIZE %d\n", cmd, size)
	ok, _ := r.ReadString('\n')
	_, _ = io.WriteString(conn, body)
	if ok == cmd+" OK\n" && len(body) >= size {
		answerProbe(conn, r)
	}
}

// answerProbe answers the probe a client sends after a body as the
// reference server does.
func answerProbe(conn net.Conn, r *bufio.Reader) {
	if line, _ := r.ReadString('\n'); line == "RECV <=>\n" {
		_, _ = io.WriteString(conn, "RECV ERR (file has an invalid file name)\n")
	}
}

// answerLS plays a server's side of "LS <>" with the given listing body.
func answerLS(conn net.Conn, r *bufio.Reader, listing string) {
	_, _ = r.ReadString('\n') // LS <>
	fmt.Fprintf(conn, "LS SIZE %d\n", len(listing))
	_, _ = r.ReadString('\n') // LS OK
	_, _ = io.WriteString(conn, listing)
}

func TestHostileNamesInAListingAreLeftAlone(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\n../../etc/passwd.data\n/abs.data\n"+spool.TempPrefix+"x.data\n")
		// Any MV would get no answer and time out.
		_, _ = io.Copy(io.Discard, conn)
	})
	p, _ := newPlugin(t, addr)
	p.ConfigSync = false // the script plays the data pull only
	require.NoError(t, p.Init())
	acc := gather(t, p)
	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_skipped": int64(3), "backlog_files": int64(3),
	})
	require.Empty(t, spoolFiles(t, p.SpoolDir))
}

func TestSyncsOfOneServerNeverOverlap(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", []byte(agentXML("a")))
	p, log := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	p.targets[0].busy.Lock() // a sync that is still running
	acc := gather(t, p)
	requireBusy(t, acc, r.addr())
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "still running")
	require.FileExists(t, filepath.Join(r.dir, "a.1.data"))

	p.targets[0].busy.Unlock()
	gather(t, p)
	requireMovedAway(t, filepath.Join(r.dir, "a.1.data"))
}

// requireMovedAway waits for a file the server sent with MV to go: the
// server deletes it after writing the bytes, not before the client has them.
func requireMovedAway(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := os.Lstat(path)
		return os.IsNotExist(err)
	}, 10*time.Second, 5*time.Millisecond, "%s is still on the server", path)
}
