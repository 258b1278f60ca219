package tentaclesync

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
)

const testAgent = "tentaclesync-central"

// parsedReport is an agent data file as the Data Server reads it.
type parsedReport struct {
	XMLName   xml.Name `xml:"agent_data"`
	AgentName string   `xml:"agent_name,attr"`
	Interval  string   `xml:"interval,attr"`
	Timestamp string   `xml:"timestamp,attr"`
	Modules   []struct {
		Name string `xml:"name"`
		Type string `xml:"type"`
		Data string `xml:"data"`
	} `xml:"module"`
}

// reportFiles are the self-report files in the spool, by name.
func reportFiles(t *testing.T, dir, agent string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for name, data := range spoolFiles(t, dir) {
		if strings.HasPrefix(name, agent+".") {
			got[name] = data
		}
	}
	return got
}

// onlyReport is the one self-report file in the spool.
func onlyReport(t *testing.T, dir string) (string, parsedReport) {
	t.Helper()
	files := reportFiles(t, dir, testAgent)
	require.Len(t, files, 1)
	for name, data := range files {
		var r parsedReport
		require.NoError(t, xml.Unmarshal(data, &r), string(data))
		return name, r
	}
	panic("unreachable")
}

// requireReportMatches wants every documented module of every server, with
// the value of its metric.
func requireReportMatches(t *testing.T, r parsedReport, acc *testutil.Accumulator, addrs []string, since map[string]func(float64) bool) {
	t.Helper()
	modules := map[string]string{}
	for _, m := range r.Modules {
		_, dup := modules[m.Name]
		require.False(t, dup, "module %q twice", m.Name)
		modules[m.Name] = m.Data
		want := "generic_data"
		if strings.HasSuffix(m.Name, " ok") {
			want = "generic_proc"
		}
		require.Equal(t, want, m.Type, m.Name)
	}
	require.Len(t, modules, len(addrs)*7)
	num := func(name string) float64 {
		t.Helper()
		data, ok := modules[name]
		require.True(t, ok, "no module %q in %v", name, modules)
		v, err := strconv.ParseFloat(data, 64)
		require.NoError(t, err, name)
		return v
	}
	for _, addr := range addrs {
		m := metricFor(t, acc, addr)
		prefix := "tentaclesync " + addr + " "
		ok := 0.0
		if m.Tags()["result"] == "success" {
			ok = 1
		}
		require.Equal(t, ok, num(prefix+"ok"))
		for _, field := range []string{"result_code", "files_received", "backlog_files", "files_failed", "sync_time"} {
			v, found := m.GetField(field)
			require.True(t, found, field)
			require.InDelta(t, toFloat(v), num(prefix+field), 1e-9, field)
		}
		require.True(t, since[addr](num(prefix+"seconds_since_success")), "%s seconds_since_success = %v", addr, modules[prefix+"seconds_since_success"])
	}
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	panic(v)
}

func TestSelfReportCarriesEveryModuleWithTheGathersValues(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", agentFile("a"))
	r.put(t, "b.1.data", agentFile("b"))
	down := "127.0.0.1:1"
	p, _ := newPlugin(t, r.addr(), down)
	p.Retries = 0
	p.PandoraAgentName = testAgent
	p.PandoraAgentInterval = config.Duration(90 * time.Second)
	require.NoError(t, p.Init())
	p.started = p.started.Add(-time.Hour) // the process started an hour ago

	acc := gather(t, p)
	name, report := onlyReport(t, p.SpoolDir)
	require.Equal(t, testAgent, report.AgentName)
	require.Equal(t, "90", report.Interval)
	_, err := time.ParseInLocation("2006/01/02 15:04:05", report.Timestamp, time.Local)
	require.NoError(t, err, report.Timestamp)
	requireReportMatches(t, report, acc, []string{r.addr(), down}, map[string]func(float64) bool{
		r.addr(): func(s float64) bool { return s < 60 },
		// Never succeeded: counted from the start.
		down: func(s float64) bool { return s >= 3600 && s < 3700 },
	})
	require.Equal(t, int64(2), metricFor(t, acc, r.addr()).Fields()["files_received"])
	require.Equal(t, "connection_failed", metricFor(t, acc, down).Tags()["result"])

	// The second report is a file of its own, and the first stays.
	require.NoError(t, os.Remove(filepath.Join(p.SpoolDir, name)))
	r.put(t, "c.1.data", agentFile("c"))
	acc = gather(t, p)
	_, report = onlyReport(t, p.SpoolDir)
	requireReportMatches(t, report, acc, []string{r.addr(), down}, map[string]func(float64) bool{
		r.addr(): func(s float64) bool { return s < 60 },
		down:     func(s float64) bool { return s >= 3600 },
	})
}

func TestSelfReportIsPickedUpByTheDataServersPattern(t *testing.T) {
	r := startRemote(t, nil)
	p, _ := newPlugin(t, r.addr())
	p.PandoraAgentName = testAgent
	require.NoError(t, p.Init())
	gather(t, p)
	name, _ := onlyReport(t, p.SpoolDir)
	ok, err := filepath.Match("*.data", name)
	require.NoError(t, err)
	require.True(t, ok, name)
	require.Regexp(t, `^`+testAgent+`\.[0-9]+\.data$`, name)
}

func TestSelfReportNeverOverwritesAnAgentDataFile(t *testing.T) {
	r := startRemote(t, nil)
	p, _ := newPlugin(t, r.addr())
	p.PandoraAgentName = testAgent
	require.NoError(t, p.Init())
	// An agent data file of the same agent and second, whichever second the
	// gather ends in.
	now := time.Now().Unix()
	theirs := map[string][]byte{}
	for s := now; s < now+5; s++ {
		name := testAgent + "." + strconv.FormatInt(s, 10) + ".data"
		theirs[name] = agentFile(testAgent)
		require.NoError(t, os.WriteFile(filepath.Join(p.SpoolDir, name), theirs[name], 0o644))
	}
	gather(t, p)
	files := reportFiles(t, p.SpoolDir, testAgent)
	require.Len(t, files, len(theirs)+1)
	for name, data := range theirs {
		require.Equal(t, data, files[name], name)
	}
	for name, data := range files {
		if _, ok := theirs[name]; !ok {
			require.Contains(t, string(data), "tentaclesync "+r.addr()+" ok")
			ok, _ := filepath.Match("*.data", name)
			require.True(t, ok, name)
		}
	}
}

func TestSelfReportIsOffByDefault(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", agentFile("a"))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	gather(t, p)
	require.Equal(t, []string{"a.1.data"}, slices.Sorted(func(yield func(string) bool) {
		for name := range spoolFiles(t, p.SpoolDir) {
			if !yield(name) {
				return
			}
		}
	}))
}

func TestNoSelfReportOnceStopping(t *testing.T) {
	r := startRemote(t, nil)
	p, _ := newPlugin(t, r.addr())
	p.PandoraAgentName = testAgent
	require.NoError(t, p.Init())
	p.stop() // Stop has begun
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	require.Empty(t, reportFiles(t, p.SpoolDir, testAgent))
}

// A second process on the spool (a -once beside the running one) would
// report the servers busy under the running one's agent.
func TestNoSelfReportBesideAnotherTentaclesync(t *testing.T) {
	r := startRemote(t, nil)
	first, _ := newPlugin(t, r.addr())
	require.NoError(t, first.Init())
	second, log := newPlugin(t, r.addr())
	second.SpoolDir = first.SpoolDir
	second.PandoraAgentName = testAgent
	require.NoError(t, second.Init())
	gather(t, second)
	require.Empty(t, reportFiles(t, second.SpoolDir, testAgent))
	var said []string
	for _, e := range log.Messages() {
		said = append(said, e.Text)
	}
	require.Contains(t, strings.Join(said, "\n"), "pandora_agent_name: no self-report while another tentaclesync uses")
}

func TestSelfReportOfABusyServerSaysSo(t *testing.T) {
	r := startRemote(t, nil)
	p, _ := newPlugin(t, r.addr())
	p.PandoraAgentName = testAgent
	require.NoError(t, p.Init())
	p.targets[0].busy.Lock() // a previous sync still runs
	acc := gather(t, p)
	p.targets[0].busy.Unlock()
	requireBusy(t, acc, r.addr())
	_, report := onlyReport(t, p.SpoolDir)
	got := map[string]string{}
	for _, m := range report.Modules {
		got[m.Name] = m.Data
	}
	prefix := "tentaclesync " + r.addr() + " "
	require.Equal(t, "0", got[prefix+"ok"])
	require.Equal(t, "6", got[prefix+"result_code"])
	require.Contains(t, got, prefix+"seconds_since_success")
	require.NotContains(t, got, prefix+"files_received", "a busy gather received nothing to report")
}

func TestPandoraAgentNameMustMakeASafeFileName(t *testing.T) {
	for _, name := range []string{"a/b", `a\b`, "a:b", ".hidden", " lead", "trail ", "a\nb", "a\x00b", "a*b",
		"tab\there", strings.Repeat("x", maxAgentNameLen+1)} {
		p, _ := newPlugin(t, "127.0.0.1")
		p.PandoraAgentName = name
		require.ErrorContains(t, p.Init(), "pandora_agent_name", "%q", name)
	}
	for _, name := range []string{testAgent, "central fms", "tentaclesync-host.example.com", strings.Repeat("x", maxAgentNameLen)} {
		p, _ := newPlugin(t, "127.0.0.1")
		p.PandoraAgentName = name
		require.NoError(t, p.Init(), "%q", name)
		p.Stop()
	}
}

// structure is every element path and attribute of an XML document, and
// which elements hold CDATA.
func structure(t *testing.T, data []byte) (paths map[string]bool, cdata map[string]bool) {
	t.Helper()
	paths, cdata = map[string]bool{}, map[string]bool{}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			path := strings.Join(stack, "/")
			paths[path] = true
			for _, a := range tok.Attr {
				paths[path+"@"+a.Name.Local] = true
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	// encoding/xml does not tell CDATA from text: look at the bytes.
	for path := range paths {
		el := path[strings.LastIndex(path, "/")+1:]
		if bytes.Contains(data, []byte("<"+el+"><![CDATA[")) {
			cdata[el] = true
		}
	}
	return paths, cdata
}

// optionalAttrs are what the reference agent writes from settings the
// self-report has none of: the Data Server takes the group from
// autocreate_group, and the agent's address is unknown.
var optionalAttrs = []string{"agent_data@group", "agent_data@address"}

func requireSameStructure(t *testing.T, reference, ours []byte) {
	t.Helper()
	want, wantCDATA := structure(t, reference)
	got, gotCDATA := structure(t, ours)
	for _, a := range optionalAttrs {
		delete(want, a)
	}
	require.Equal(t, want, got, "element and attribute names")
	require.Equal(t, wantCDATA, gotCDATA, "elements written as CDATA")
	require.True(t, bytes.HasPrefix(ours, []byte("<?xml version='1.0' encoding='UTF-8'?>\n")))
}

func ourReport(t *testing.T) []byte {
	t.Helper()
	p, _ := newPlugin(t, "127.0.0.1:1")
	p.PandoraAgentName = testAgent
	require.NoError(t, p.Init())
	sp := openSpool(t, p.SpoolDir)
	name, err := p.writeReport(sp, []serverReport{{
		addr:   "10.142.50.10:41121",
		fields: map[string]any{"result_code": int64(0), "files_received": int64(3), "backlog_files": int64(0), "files_failed": int64(0), "sync_time": 0.25},
	}}, time.Now())
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(p.SpoolDir, name))
	require.NoError(t, err)
	return data
}

// testdata/pandora_agent_reference.data is what Debian's pandorafms-agent
// (4.1) wrote, run once with debug 1 and two modules, a generic_proc and a
// generic_data (see TestSelfReportHasTheStructureOfWhatPandoraAgentWritesNow).
func TestSelfReportHasTheStructureOfARealAgentsFile(t *testing.T) {
	reference, err := os.ReadFile("testdata/pandora_agent_reference.data")
	require.NoError(t, err)
	requireSameStructure(t, reference, ourReport(t))
}

// The same against the installed agent, where there is one.
func TestSelfReportHasTheStructureOfWhatPandoraAgentWritesNow(t *testing.T) {
	agent, err := exec.LookPath("pandora_agent")
	if err != nil {
		t.Skip("pandora_agent is not installed (Debian: apt-get install pandorafms-agent); the committed reference is compared instead")
	}
	dir := t.TempDir()
	conf := `server_ip localhost
server_path ` + dir + `
temporal ` + dir + `
logfile ` + filepath.Join(dir, "agent.log") + `
interval 60
debug 1
agent_name reference
transfer_mode local
remote_config 0
module_begin
module_name proc
module_type generic_proc
module_exec echo 1
module_end
module_begin
module_name data
module_type generic_data
module_exec echo 0.25
module_end
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pandora_agent.conf"), []byte(conf), 0o644))
	out, err := exec.Command(agent, dir).CombinedOutput()
	require.NoError(t, err, string(out))
	matches, err := filepath.Glob(filepath.Join(dir, "reference.*.data"))
	require.NoError(t, err)
	require.Len(t, matches, 1, string(out))
	reference, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	requireSameStructure(t, reference, ourReport(t))
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { sp.Close() })
	return sp
}
