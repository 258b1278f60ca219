package tentaclesync

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// The self-report (pandora_agent_name): after each gather, one agent data
// file in the spool, written as a Pandora FMS agent writes it, so that the
// Data Server creates and updates an agent for tentaclesync itself with a
// module set per server.

// Bounds of the self-report's settings.
const (
	maxAgentNameLen    = 100 // leaves room for ".<unix seconds>.<n>.data"
	minAgentInterval   = time.Second
	maxAgentInterval   = 24 * time.Hour
	reportTimestampFmt = "2006/01/02 15:04:05" // the agent's strftime('%Y/%m/%d %H:%M:%S', localtime)
)

// Module types, as Pandora names them.
const (
	typeProc = "generic_proc" // 1 is up, 0 is critical
	typeData = "generic_data"
)

// reportModule is one module of each server's set: the suffix of its name
// (after "tentaclesync <server> "), its type, what it says, and the metric
// field it carries (empty for the derived ones).
type reportModule struct {
	suffix, kind, field, description string
}

// reportModules is the documented module set, in the order written.
var reportModules = []reportModule{
	{"ok", typeProc, "", "1 when the last gather of this server succeeded (result success), else 0"},
	{"result_code", typeData, "result_code", "result of the last gather: 0 success, 1 connection_failed, 2 tls_failed, 3 auth_failed, 4 timeout, 5 protocol_error, 6 busy"},
	{"files_received", typeData, "files_received", "files brought into the spool by the last gather"},
	{"backlog_files", typeData, "backlog_files", "matching files still on the server after the last gather"},
	{"files_failed", typeData, "files_failed", "files the last gather could not bring in whole (broken, kept aside as .incomplete, or lost)"},
	{"sync_time", typeData, "sync_time", "seconds the last gather of this server took"},
	{"seconds_since_success", typeData, "", "seconds since the last successful gather of this server (counted from the process start until the first)"},
}

// serverReport is what one server's gather leaves for the self-report.
type serverReport struct {
	addr string
	// fields are the metric's fields; nil when no metric was written (the
	// spool lock could not be taken).
	fields map[string]any
	// sinceSuccess is how long ago the server last succeeded in this
	// process, or since the process started.
	sinceSuccess time.Duration
}

// agentData is the agent data file, in the element and attribute names a
// Pandora FMS agent writes (see testdata/pandora_agent_reference.data).
type agentData struct {
	XMLName        xml.Name      `xml:"agent_data"`
	Description    string        `xml:"description,attr"`
	OSName         string        `xml:"os_name,attr"`
	OSVersion      string        `xml:"os_version,attr"`
	Interval       int64         `xml:"interval,attr"`
	Version        string        `xml:"version,attr"`
	Timestamp      string        `xml:"timestamp,attr"`
	AgentName      string        `xml:"agent_name,attr"`
	TimezoneOffset int           `xml:"timezone_offset,attr"`
	Modules        []agentModule `xml:"module"`
}

type agentModule struct {
	Name        cdata  `xml:"name"`
	Description cdata  `xml:"description"`
	Type        string `xml:"type"`
	Data        cdata  `xml:"data"`
}

// cdata is text written as CDATA, as the agent writes names and data.
type cdata struct {
	Text string `xml:",cdata"`
}

// checkAgentName accepts a name that makes a safe data file name, locally
// and over Tentacle.
func checkAgentName(name string) error {
	if len(name) > maxAgentNameLen {
		return fmt.Errorf("pandora_agent_name: at most %d bytes, got %d", maxAgentNameLen, len(name))
	}
	if strings.HasPrefix(name, ".") || strings.TrimSpace(name) != name {
		return fmt.Errorf("pandora_agent_name: %q starts with a dot or space, or ends with a space", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("pandora_agent_name: %q holds a character that is not printable", name)
		}
	}
	file := reportFileName(name, time.Now())
	if err := spool.CheckName(file); err != nil {
		return fmt.Errorf("pandora_agent_name: %w", err)
	}
	if err := tentacle.CheckName(file); err != nil {
		return fmt.Errorf("pandora_agent_name: %w", err)
	}
	return nil
}

// reportFileName is the name an agent gives its data file.
func reportFileName(agent string, at time.Time) string {
	return agent + "." + strconv.FormatInt(at.Unix(), 10) + ".data"
}

// moduleName is the name of a server's module.
func moduleName(addr, suffix string) string {
	return "tentaclesync " + addr + " " + suffix
}

// buildReport is the agent data file for one gather.
func (t *TentacleSync) buildReport(servers []serverReport, at time.Time) agentData {
	// Local time, as the agent writes it; timezone_offset (0) is the
	// agent's manual correction, which the Data Server adds.
	doc := agentData{
		Description: "tentaclesync: Tentacle servers pulled into " + t.SpoolDir,
		OSName:      runtime.GOOS,
		OSVersion:   osVersion(),
		Interval:    int64((time.Duration(t.PandoraAgentInterval) + time.Second - 1) / time.Second),
		Version:     "tentaclesync " + moduleVersion(),
		Timestamp:   at.Format(reportTimestampFmt),
		AgentName:   t.PandoraAgentName,
	}
	for _, s := range servers {
		for _, m := range reportModules {
			data, ok := reportValue(s, m)
			if !ok {
				continue
			}
			doc.Modules = append(doc.Modules, agentModule{
				Name:        cdata{moduleName(s.addr, m.suffix)},
				Description: cdata{m.description},
				Type:        m.kind,
				Data:        cdata{data},
			})
		}
	}
	return doc
}

// reportValue is a module's data, and false when this gather has none for
// it (a busy server has only its result code).
func reportValue(s serverReport, m reportModule) (string, bool) {
	switch m.suffix {
	case "ok":
		if code, ok := s.fields["result_code"].(int64); ok && code == resultSuccess.code {
			return "1", true
		}
		return "0", true
	case "seconds_since_success":
		return strconv.FormatInt(int64(s.sinceSuccess/time.Second), 10), true
	}
	switch v := s.fields[m.field].(type) {
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// writeReport writes the gather's agent data file into the spool. Commit
// never replaces a file: a second report in the same second, or an agent
// data file of the same name, gets a name of its own.
func (t *TentacleSync) writeReport(sp *spool.Spool, servers []serverReport, at time.Time) (string, error) {
	body, err := xml.MarshalIndent(t.buildReport(servers, at), "", "\t")
	if err != nil {
		return "", err
	}
	f, err := sp.Create(reportFileName(t.PandoraAgentName, at))
	if err != nil {
		return "", err
	}
	data := append([]byte("<?xml version='1.0' encoding='UTF-8'?>\n"), body...)
	data = append(data, '\n')
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return "", err
	}
	name, err := f.Commit()
	if err != nil && name == "" {
		return "", err
	}
	return name, err
}

// osVersion is what /etc/os-release calls the system, as the agent reports
// it; empty where there is none.
func osVersion() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// moduleVersion is the main module's version, "devel" for a build from a
// work tree.
func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
