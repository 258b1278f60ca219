//go:build integration

// Package integration runs the whole pipeline with the real programs: Telegraf
// runs the built tentaclesync-execd through [[inputs.execd]] with the README's
// own entry, pulls from Go Tentacle servers (cmd/tentacle-server) with TLS and
// a password, and writes to a real InfluxDB 1.x, which is then asked the
// README's dashboard queries. .ci/integration installs InfluxDB, builds
// Telegraf and runs this with TELEGRAF and INFLUXD set.
package integration_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

const (
	password = "p@ss w0rd"
	database = "tentaclesync"
	// How long any one step may take before the test gives up; each step
	// takes a few gathers of 2 s, or one restart_delay.
	stepTimeout = 90 * time.Second
)

func TestTelegrafRunsTentaclesyncIntoInfluxDB(t *testing.T) {
	telegraf := requireTool(t, "TELEGRAF")
	influxd := requireTool(t, "INFLUXD")
	started := time.Now()
	dir := t.TempDir()
	bin := buildBinaries(t, dir)
	certs, err := testcerts.Write(dir, "sites")
	require.NoError(t, err)

	db := startInfluxDB(t, influxd, filepath.Join(dir, "influxdb"))
	// north is a healthy isolated network; south's server wants another
	// password, so it is the site in error.
	north := startSite(t, bin, filepath.Join(dir, "north"), certs, password)
	south := startSite(t, bin, filepath.Join(dir, "south"), certs, "not the one configured")
	north.seed(t, "north", 25)
	south.seed(t, "south", 3)

	spool := filepath.Join(dir, "data_in")
	require.NoError(t, os.Mkdir(spool, 0o755))
	// The configuration sync: a central conf file for every site, and an
	// agent's first-contact conf file on north.
	require.NoError(t, os.Mkdir(filepath.Join(spool, "conf"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(spool, "conf", centralConf), []byte(centralConfData), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(north.remote, "conf"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(north.remote, "conf", firstContactConf), []byte(firstContactConfData), 0o644))
	pluginConf := filepath.Join(dir, "tentaclesync.conf")
	require.NoError(t, os.WriteFile(pluginConf, fmt.Appendf(nil, `[[inputs.tentaclesync]]
  servers = [%q, %q]
  spool_dir = %q
  password = %q
  tls_ca = %q
  tls_cert = %q
  tls_key = %q
  timeout = "5s"
  max_files_per_gather = 10
  state_dir = %q
`, north.addr, south.addr, spool, password, certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile,
		filepath.Join(dir, "state")), 0o600))
	metricsFile := filepath.Join(dir, "metrics.out")
	telegrafConf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(telegrafConf,
		[]byte(telegrafConfig(t, filepath.Join(bin, "tentaclesync-execd"), pluginConf, db.url, metricsFile)), 0o600))

	tg := startProcess(t, filepath.Join(dir, "telegraf.log"), telegraf, "--config", telegrafConf)
	execd := waitForChild(t, tg.pid(), 0)
	t.Logf("telegraf (pid %d) runs tentaclesync-execd (pid %d)", tg.pid(), execd)

	// 25 files at most 10 per gather: three gathers with backlogs 15, 5, 0.
	waitFor(t, "InfluxDB to count north's 25 files", func() string {
		return filesCounted(t, db, north.addr, 25)
	})
	requireSpoolHoldsExactly(t, spool, north.files)
	requireConfigSynced(t, spool, north.remote)
	waitFor(t, "the file output to count north's 25 files", func() string {
		return metricsFileCount(t, metricsFile, north.addr, 25)
	})
	require.Equal(t, 15.0, db.single(t, `SELECT max("backlog_files") FROM "tentaclesync" WHERE "server" = '`+north.addr+`'`),
		"the first gather left 15 files for later")
	requireDashboards(t, db, north.addr, south.addr, 25)
	requireGrafanaDashboard(t, db, north, south, started)

	// The restart path: kill the binary, leave work for it, and Telegraf's
	// restart must pick the work up with a normal gather.
	killed := time.Now()
	require.NoError(t, syscall.Kill(execd, syscall.SIGKILL))
	north.seed(t, "north-after-restart", 7)
	restarted := waitForChild(t, tg.pid(), execd)
	t.Logf("tentaclesync-execd killed (pid %d), restarted by Telegraf (pid %d)", execd, restarted)
	waitFor(t, "InfluxDB to count north's 32 files", func() string {
		return filesCounted(t, db, north.addr, 32)
	})
	require.Equal(t, 7.0, db.single(t, fmt.Sprintf(
		`SELECT sum("files_received") FROM "tentaclesync" WHERE "server" = '%s' AND "result" = 'success' AND time > %d`,
		north.addr, killed.UnixNano())), "the restarted binary's gathers report the new files as a success")
	requireSpoolHoldsExactly(t, spool, north.files)
	requireDashboards(t, db, north.addr, south.addr, 32)
	requireGrafanaDashboard(t, db, north, south, started)
	waitFor(t, "the file output to count north's 32 files", func() string {
		return metricsFileCount(t, metricsFile, north.addr, 32)
	})

	// Telegraf stops its execd child when it stops.
	require.NoError(t, tg.stop(t), "telegraf stops cleanly on SIGTERM")
	logExecdLines(t, filepath.Join(dir, "telegraf.log"))
	require.False(t, alive(restarted), "telegraf left tentaclesync-execd running")
	requireNoLeftovers(t, south.remote, south.files)
}

// logExecdLines shows what Telegraf said about the process it ran: its
// start, the kill, the restart and its stop.
func logExecdLines(t *testing.T, logFile string) {
	t.Helper()
	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if strings.Contains(line, "[inputs.execd]") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

func requireTool(t *testing.T, env string) string {
	t.Helper()
	path := os.Getenv(env)
	require.NotEmpty(t, path, "set %s to the binary's path, or run .ci/integration, which does", env)
	_, err := os.Stat(path)
	require.NoError(t, err, "%s", env)
	return path
}

// buildBinaries builds the project's commands from this checkout.
func buildBinaries(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/tentaclesync-execd", "./cmd/tentacle-server")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// telegrafConfig is the README's [[inputs.execd]] entry, with the binary and
// the plugin configuration where this test put them, between a quick agent
// and the two outputs.
func telegrafConfig(t *testing.T, execdBinary, pluginConf, influxURL, metricsFile string) string {
	t.Helper()
	entry := readmeBlock(t, "```toml @telegraf.conf\n")
	for old, new := range map[string]string{
		`"/usr/local/bin/tentaclesync-execd"`: strconv.Quote(execdBinary),
		`"/etc/telegraf/tentaclesync.conf"`:   strconv.Quote(pluginConf),
	} {
		require.Equal(t, 1, strings.Count(entry, old), "the README's execd entry names %s once", old)
		entry = strings.Replace(entry, old, new, 1)
	}
	return fmt.Sprintf(`[agent]
  interval = "2s"
  round_interval = false
  flush_interval = "1s"
  omit_hostname = true

%s
[[outputs.influxdb]]
  urls = [%q]
  database = %q
  skip_database_creation = true

[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, entry, influxURL, database, metricsFile)
}

func readmeBlock(t *testing.T, fence string) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, block, found := strings.Cut(string(readme), fence)
	require.True(t, found, "README.md has a %q block", strings.TrimSpace(fence))
	block, _, found = strings.Cut(block, "```\n")
	require.True(t, found, "README.md's %q block ends", strings.TrimSpace(fence))
	return block
}

// dashboards are the README's queries by their titles: a "-- Title: ..."
// line, then the query on one line.
func dashboards(t *testing.T) map[string]string {
	t.Helper()
	queries := map[string]string{}
	var title string
	for line := range strings.Lines(readmeBlock(t, "```sql @dashboards\n")) {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "-- "); ok {
			title, _, _ = strings.Cut(c, ":")
			continue
		}
		if line != "" {
			queries[title] = line
		}
	}
	return queries
}

// requireDashboards asks the README's queries and checks their answers:
// north has all its files and no backlog, south is in error with its files
// still waiting.
func requireDashboards(t *testing.T, db *influxDB, north, south string, northFiles int) {
	t.Helper()
	require.Len(t, dashboards(t), 3)

	perHour := db.query(t, dashboard(t, "Files per site per hour"))
	require.Equal(t, float64(northFiles), perHour.sum(t, north, "sum"))
	require.Equal(t, 0.0, perHour.sum(t, south, "sum"))

	backlog := db.query(t, dashboard(t, "Backlog per site"))
	require.Equal(t, 0.0, backlog.sum(t, north, "last"))
	require.Contains(t, backlog.servers(), south)

	inError := db.query(t, dashboard(t, "Sites in error"))
	require.Equal(t, []string{south}, inError.servers())
	require.Equal(t, "auth_failed", inError.column(t, south, "result"))
	require.Equal(t, 3.0, inError.column(t, south, "result_code"))
}

func dashboard(t *testing.T, title string) string {
	t.Helper()
	q, ok := dashboards(t)[title]
	require.True(t, ok, "the README's dashboards have no %q", title)
	return q
}

// filesCounted is "" once the README's files-per-hour query counts want
// files for server, else what it counts.
func filesCounted(t *testing.T, db *influxDB, server string, want int) string {
	t.Helper()
	got := db.query(t, dashboard(t, "Files per site per hour")).sum(t, server, "sum")
	require.LessOrEqual(t, got, float64(want), "more files counted than seeded")
	if got == float64(want) {
		return ""
	}
	return fmt.Sprintf("%v files counted", got)
}

// metricsFileCount adds up files_received for server in what
// [[outputs.file]] wrote: "" when that is want, else what it found. The file
// output flushes beside the InfluxDB output, not necessarily before it.
func metricsFileCount(t *testing.T, path, server string, want int64) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data = data[:bytes.LastIndexByte(data, '\n')+1] // complete lines only
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse(data)
	require.NoError(t, err)
	var got int64
	for _, m := range metrics {
		require.Equal(t, "tentaclesync", m.Name())
		if m.Tags()["server"] == server {
			got += m.Fields()["files_received"].(int64)
		}
	}
	require.LessOrEqual(t, got, want, "more files in %s than seeded", path)
	if got == want {
		return ""
	}
	return fmt.Sprintf("%d files in %s", got, path)
}

// site is a tentacle-server process, as an isolated network runs it.
type site struct {
	addr, remote string
	files        map[string][]byte
}

func startSite(t *testing.T, bin, dir string, certs *testcerts.Set, serverPassword string) *site {
	t.Helper()
	s := &site{remote: filepath.Join(dir, "data_in"), files: map[string][]byte{}}
	require.NoError(t, os.MkdirAll(s.remote, 0o755))
	p := startProcess(t, filepath.Join(dir, "tentacle-server.log"), filepath.Join(bin, "tentacle-server"),
		"-a", "127.0.0.1", "-p", "0", "-s", s.remote, "-I", "-o", "-i", server.PandoraFilters, "-x", serverPassword,
		"-e", certs.ServerCertFile, "-k", certs.ServerKeyFile, "-f", certs.CAFile, "-v")
	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	waitFor(t, "tentacle-server to listen", func() string {
		log, err := os.ReadFile(filepath.Join(dir, "tentacle-server.log"))
		require.NoError(t, err)
		if m := listening.FindSubmatch(log); m != nil {
			s.addr = string(m[1])
			return ""
		}
		require.True(t, p.running(), "tentacle-server ended: %s", log)
		return "no address yet"
	})
	return s
}

// seed writes agent data files of random bytes and sizes up to 64 KiB,
// each ending as an agent data file does, so that it is whole.
func (s *site) seed(t *testing.T, agent string, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("%s-host%02d.%d.data", agent, i, 1700000000+i)
		var size [2]byte
		_, _ = rand.Read(size[:])
		data := make([]byte, 1+int(size[0])<<8|int(size[1]))
		_, _ = rand.Read(data)
		data = append(data, "</agent_data>\n"...)
		require.NoError(t, os.WriteFile(filepath.Join(s.remote, name), data, 0o644))
		s.files[name] = data
	}
}

// pullLockDir holds tentaclesync's locks in the spool, not files.
var pullLockDir = spool.PullLockDir

// requireSpoolHoldsExactly checks every byte of every file, and that nothing
// else, no temporary file either, is there.
func requireSpoolHoldsExactly(t *testing.T, spool string, files map[string][]byte) {
	t.Helper()
	entries, err := os.ReadDir(spool)
	require.NoError(t, err)
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == pullLockDir || e.Name() == "conf" })
	require.Len(t, entries, len(files), "files in %s", spool)
	for _, e := range entries {
		want, ok := files[e.Name()]
		require.True(t, ok, "unexpected file %s in the spool", e.Name())
		got, err := os.ReadFile(filepath.Join(spool, e.Name()))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "%s differs from what the agent sent", e.Name())
	}
}

// The configuration files of the test: central.conf is pushed to north
// (south refuses the password), first-contact.conf is pulled from it.
const (
	centralConf          = "central.conf"
	centralConfData      = "# the central configuration\nmodule_begin\nmodule_end\n"
	firstContactConf     = "first-contact.conf"
	firstContactConfData = "# an agent's first contact\nagent_name first-contact\n"
)

// requireConfigSynced checks that the configuration sync went both ways
// between the spool and north: central.conf pushed, first-contact.conf
// pulled, each byte for byte.
func requireConfigSynced(t *testing.T, spool, north string) {
	t.Helper()
	for path, want := range map[string]string{
		filepath.Join(north, "conf", centralConf):      centralConfData,
		filepath.Join(spool, "conf", centralConf):      centralConfData,
		filepath.Join(spool, "conf", firstContactConf): firstContactConfData,
		filepath.Join(north, "conf", firstContactConf): firstContactConfData,
	} {
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, want, string(got), path)
	}
}

// requireNoLeftovers checks that a site in error still has all its files.
func requireNoLeftovers(t *testing.T, remote string, files map[string][]byte) {
	t.Helper()
	for name := range files {
		_, err := os.Stat(filepath.Join(remote, name))
		require.NoError(t, err, "%s must stay on the server whose password was refused", name)
	}
}

// startInfluxDB runs influxd on free loopback ports with everything under
// dir, and creates the database.
func startInfluxDB(t *testing.T, influxd, dir string) *influxDB {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	httpAddr, rpcAddr := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "influxdb.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = %q
  log-enabled = false
[monitor]
  store-enabled = false
`, rpcAddr, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpAddr), 0o600))
	startProcess(t, filepath.Join(dir, "influxd.log"), influxd, "-config", conf)
	db := &influxDB{url: "http://" + httpAddr}
	waitFor(t, "influxd to answer /ping", func() string {
		resp, err := influxHTTP.Get(db.url + "/ping")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return resp.Status
		}
		return ""
	})
	resp, err := influxHTTP.PostForm(db.url+"/query", url.Values{"q": {"CREATE DATABASE " + database}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "CREATE DATABASE")
	return db
}

// freeAddr is a loopback address nothing listened on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type influxDB struct{ url string }

// answer is one statement's result from InfluxDB's /query.
type answer struct {
	Series []struct {
		Tags    map[string]string `json:"tags"`
		Columns []string          `json:"columns"`
		Values  [][]any           `json:"values"`
	} `json:"series"`
	Error string `json:"error"`
}

func (db *influxDB) query(t *testing.T, q string) answer {
	t.Helper()
	resp, err := influxHTTP.Get(db.url + "/query?" + url.Values{"db": {database}, "q": {q}}.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", q, body)
	var r struct{ Results []answer }
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	require.Len(t, r.Results, 1, "%s", body)
	require.Empty(t, r.Results[0].Error, "%s", q)
	return r.Results[0]
}

// single is the one value of a query without GROUP BY.
func (db *influxDB) single(t *testing.T, q string) float64 {
	t.Helper()
	a := db.query(t, q)
	require.Len(t, a.Series, 1, "%s", q)
	require.Len(t, a.Series[0].Values, 1, "%s", q)
	v, ok := a.Series[0].Values[0][1].(float64)
	require.True(t, ok, "%s: %v", q, a.Series[0].Values[0])
	return v
}

// sum adds up a numeric column over the series of one server; 0 when the
// server has no series.
func (a answer) sum(t *testing.T, server, column string) float64 {
	t.Helper()
	var total float64
	for _, s := range a.Series {
		if s.Tags["server"] != server {
			continue
		}
		i := columnIndex(t, s.Columns, column)
		for _, row := range s.Values {
			v, ok := row[i].(float64)
			require.True(t, ok, "%s of %s: %v", column, server, row)
			total += v
		}
	}
	return total
}

// column is the value of column in the one row of server's series.
func (a answer) column(t *testing.T, server, column string) any {
	t.Helper()
	for _, s := range a.Series {
		if s.Tags["server"] == server {
			require.Len(t, s.Values, 1, "rows of %s", server)
			return s.Values[0][columnIndex(t, s.Columns, column)]
		}
	}
	t.Fatalf("no series for %s", server)
	return nil
}

func (a answer) servers() []string {
	var servers []string
	for _, s := range a.Series {
		servers = append(servers, s.Tags["server"])
	}
	return servers
}

func columnIndex(t *testing.T, columns []string, name string) int {
	t.Helper()
	for i, c := range columns {
		if c == name {
			return i
		}
	}
	t.Fatalf("no column %q in %v", name, columns)
	return -1
}

// process is a program the test started.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProcess runs a program with its output in logFile. Cleanup stops it
// if the test has not, and shows the log when the test failed.
// influxHTTP bounds every call, so that a stalled influxd cannot hold a
// wait past its own bound.
var influxHTTP = &http.Client{Timeout: 5 * time.Second}

func startProcess(t *testing.T, logFile, name string, args ...string) *process {
	t.Helper()
	log, err := os.Create(logFile)
	require.NoError(t, err)
	p := &process{cmd: exec.Command(name, args...), exited: make(chan struct{})}
	// If the test binary dies (go test's -timeout panics past t.Cleanup),
	// its children die with it instead of holding ports and files.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	require.NoError(t, p.cmd.Start(), "%s", name)
	go func() {
		p.err = p.cmd.Wait()
		log.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			data, _ := os.ReadFile(logFile)
			t.Logf("--- %s (%s):\n%s", filepath.Base(name), logFile, tail(data, 60))
		}
	})
	return p
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL when the process is still there 20 s
// later, and returns how it ended.
func (p *process) stop(t *testing.T) error {
	t.Helper()
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Errorf("%s ignored SIGTERM for 20 s; killing it", p.cmd.Path)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return p.err
}

func tail(data []byte, lines int) string {
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// waitForChild returns the pid of parent's tentaclesync-execd child once
// there is one other than not.
func waitForChild(t *testing.T, parent, not int) int {
	t.Helper()
	var pid int
	waitFor(t, "telegraf to start tentaclesync-execd", func() string {
		for _, p := range children(t, parent) {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
			if p != not && filepath.Base(exe) == "tentaclesync-execd" {
				pid = p
				return ""
			}
		}
		return "not running"
	})
	return pid
}

// children lists the processes whose parent is pid, from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var kids []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := bytes.Fields(data[bytes.LastIndexByte(data, ')')+1:])
		if len(fields) < 2 || string(fields[1]) != strconv.Itoa(pid) {
			continue
		}
		kid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		require.NoError(t, err)
		kids = append(kids, kid)
	}
	return kids
}

// alive tells whether pid is a process that has not ended: a zombie has.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	return len(fields) > 0 && string(fields[0]) != "Z"
}

// waitFor polls cond, which returns "" when satisfied or what it saw, until
// stepTimeout.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		seen := cond()
		if seen == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last seen: %s", stepTimeout, what, seen)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
