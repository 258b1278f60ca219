package tentaclesync

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/internal/state"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// sendLog records the names the server stored, in the order it stored them.
type sendLog struct {
	mu    sync.Mutex
	names []string
}

func (l *sendLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *sendLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *sendLog) WithGroup(string) slog.Handler            { return l }

func (l *sendLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "received file" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "file" {
			l.mu.Lock()
			l.names = append(l.names, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *sendLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.names
	l.names = nil
	return names
}

// recordSends makes the server report each file it stores.
func recordSends(l *sendLog) func(*server.Config) {
	return func(cfg *server.Config) { cfg.Logger = slog.New(l) }
}

func putCentral(t testing.TB, p *TentacleSync, rel, data string) {
	t.Helper()
	path := filepath.Join(p.SpoolDir, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// configFields are the config_* fields of the server's metric, and its
// result, which must stay the data pull's.
func configFields(t *testing.T, acc *testutil.Accumulator, addr string) map[string]any {
	t.Helper()
	m := metricFor(t, acc, addr)
	fields := map[string]any{"result": m.Tags()["result"]}
	for k, v := range m.Fields() {
		if strings.HasPrefix(k, "config_") || k == "files_received" {
			fields[k] = v
		}
	}
	return fields
}

func counts(received, sent, bytesSent, configReceived, removed, failed int64) map[string]any {
	return map[string]any{
		"result": "success", "files_received": received,
		"config_files_sent": sent, "config_bytes_sent": bytesSent, "config_files_received": configReceived,
		"config_files_removed": removed, "config_files_failed": failed,
	}
}

const agentHash = "2c3a5f8a0e0d4a1b2c3a5f8a0e0d4a1b"

func TestFirstContactConfigIsCopiedInAndStaysOnTheServer(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "conf/"+agentHash+".conf", []byte("agent_name host01\n"))
	r.put(t, "md5/"+agentHash+".md5", []byte("d41d8cd98f00b204e9800998ecf8427e"))
	r.put(t, "collections/unknown.zip", []byte("PK")) // not a first-contact kind
	r.put(t, "host01.1.data", agentFile("host01"))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())

	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, counts(1, 0, 0, 2, 0, 0), configFields(t, acc, r.addr()))
	require.Equal(t, "agent_name host01\n", readFile(t, filepath.Join(p.SpoolDir, "conf", agentHash+".conf")))
	require.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", readFile(t, filepath.Join(p.SpoolDir, "md5", agentHash+".md5")))
	require.FileExists(t, filepath.Join(r.dir, "conf", agentHash+".conf"), "RECV, not MV: the agent keeps its copy")
	require.FileExists(t, filepath.Join(r.dir, "md5", agentHash+".md5"))
	require.NoFileExists(t, filepath.Join(p.SpoolDir, "collections", "unknown.zip"))

	acc = gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()), "in step: nothing moves")
}

func TestConsoleEditIsPushedPayloadFirstAndMD5Last(t *testing.T) {
	var sends sendLog
	r := startRemote(t, recordSends(&sends))
	r.put(t, "conf/"+agentHash+".conf", []byte("agent_name host01\n"))
	r.put(t, "md5/"+agentHash+".md5", []byte("old-md5"))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	gather(t, p) // first contact
	require.Empty(t, sends.take())

	// The console edits the agent's configuration, and adds a collection
	// and a remote command.
	putCentral(t, p, "conf/"+agentHash+".conf", "agent_name host01\nmodule_begin\n")
	putCentral(t, p, "md5/"+agentHash+".md5", "new-md5")
	putCentral(t, p, "collections/fc_1.zip", "PK-collection")
	putCentral(t, p, "md5/fc_1.md5", "fc-md5")
	putCentral(t, p, "commands/rc_7.rcmd", "command: uptime")
	putCentral(t, p, "md5/rc_7.md5", "rc-md5")
	r.put(t, "host01.2.data", agentFile("host01"))

	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	bytes := int64(len("agent_name host01\nmodule_begin\n") + len("new-md5") + len("PK-collection") + len("fc-md5") + len("command: uptime") + len("rc-md5"))
	require.Equal(t, counts(1, 6, bytes, 0, 0, 0), configFields(t, acc, r.addr()))
	require.Equal(t, []string{
		"fc_1.zip", "rc_7.rcmd", agentHash + ".conf", // every payload ...
		agentHash + ".md5", "fc_1.md5", "rc_7.md5", // ... before any md5 file
	}, sends.take())
	require.Equal(t, "agent_name host01\nmodule_begin\n", readFile(t, filepath.Join(r.dir, "conf", agentHash+".conf")))
	require.Equal(t, "new-md5", readFile(t, filepath.Join(r.dir, "md5", agentHash+".md5")))
	require.Equal(t, "PK-collection", readFile(t, filepath.Join(r.dir, "collections", "fc_1.zip")))
	require.Equal(t, "command: uptime", readFile(t, filepath.Join(r.dir, "commands", "rc_7.rcmd")))

	acc = gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()), "a second gather sends nothing")
	require.Empty(t, sends.take())

	restarted, _ := newPlugin(t, r.addr())
	restarted.SpoolDir, restarted.StateDir = p.SpoolDir, p.StateDir
	require.NoError(t, restarted.Init())
	acc = gather(t, restarted)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()), "nor does one after a restart")
	require.Empty(t, sends.take())
}

// The console rewrites a payload (here caught while it is still empty) and
// then its md5 file: the md5 file must wait until the server has the new
// payload, or an agent would fetch the old one and never fetch again. An
// empty payload that holds back its md5 file is reported: it may as well
// stay empty.
func TestMD5WaitsForItsPayloadInItsCurrentVersion(t *testing.T) {
	var sends sendLog
	r := startRemote(t, recordSends(&sends))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "conf/"+agentHash+".conf", "v1")
	putCentral(t, p, "md5/"+agentHash+".md5", "md5-v1")
	gather(t, p)
	require.Equal(t, []string{agentHash + ".conf", agentHash + ".md5"}, sends.take())

	putCentral(t, p, "conf/"+agentHash+".conf", "") // being rewritten
	putCentral(t, p, "md5/"+agentHash+".md5", "md5-v2")
	acc := gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "conf/"+agentHash+".conf is empty")
	require.Equal(t, int64(1), configFields(t, acc, r.addr())["config_files_failed"])
	require.Empty(t, sends.take(), "the md5 file waits")
	require.Equal(t, "md5-v1", readFile(t, filepath.Join(r.dir, "md5", agentHash+".md5")))

	putCentral(t, p, "conf/"+agentHash+".conf", "v2")
	acc = gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, []string{agentHash + ".conf", agentHash + ".md5"}, sends.take())
	require.Equal(t, "md5-v2", readFile(t, filepath.Join(r.dir, "md5", agentHash+".md5")))
}

// A central file the sync cannot carry is reported on every gather, by name
// and with what to do, and counted in config_files_failed; nothing of it
// reaches the server, and the rest of the configuration carries on.
func TestWhatCannotBeCarriedIsReportedEveryGather(t *testing.T) {
	var sends sendLog
	r := startRemote(t, recordSends(&sends))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "collections/fc+1.zip", "PK-plus")
	putCentral(t, p, "md5/fc+1.md5", "fc-md5")
	putCentral(t, p, "commands/a=b.rcmd", "command: uptime")
	putCentral(t, p, "conf/"+agentHash+".conf", "")
	putCentral(t, p, "md5/"+agentHash+".md5", "md5-1")
	putCentral(t, p, "conf/other.conf", "agent_name host02\n")
	putCentral(t, p, "md5/other.md5", "md5-other")

	prefix := r.addr() + ": config sync: "
	want := []string{
		prefix + "collections/fc+1.zip is not sent: rename it: Tentacle forbids '+' in names",
		prefix + "commands/a=b.rcmd is not sent: rename it: Tentacle forbids '=' in names",
		prefix + "md5/fc+1.md5 is not sent: rename it: Tentacle forbids '+' in names",
		prefix + "conf/" + agentHash + ".conf is empty: a Tentacle server stores no empty file, so md5/" + agentHash + ".md5 is held back until it has content",
	}
	errorTexts := func(acc *testutil.Accumulator) []string {
		var texts []string
		for _, err := range acc.Errors {
			texts = append(texts, err.Error())
		}
		return texts
	}
	notOnServer := func() {
		t.Helper()
		for _, rel := range []string{"collections/fc+1.zip", "md5/fc+1.md5", "commands/a=b.rcmd", "conf/" + agentHash + ".conf", "md5/" + agentHash + ".md5"} {
			require.NoFileExists(t, filepath.Join(r.dir, rel))
		}
	}

	acc := gather(t, p)
	bytes := int64(len("agent_name host02\n") + len("md5-other"))
	require.Equal(t, counts(0, 2, bytes, 0, 0, 4), configFields(t, acc, r.addr()))
	require.Equal(t, want, errorTexts(acc))
	require.Equal(t, []string{"other.conf", "other.md5"}, sends.take(), "the rest carries on")
	notOnServer()

	acc = gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 4), configFields(t, acc, r.addr()), "reported again, once per gather")
	require.Equal(t, want, errorTexts(acc))
	require.Empty(t, sends.take())
	notOnServer()

	// The console writes the conf: it goes, its md5 file after it.
	putCentral(t, p, "conf/"+agentHash+".conf", "agent_name host01\n")
	acc = gather(t, p)
	require.Equal(t, want[:3], errorTexts(acc))
	require.Equal(t, int64(3), configFields(t, acc, r.addr())["config_files_failed"])
	require.Equal(t, []string{agentHash + ".conf", agentHash + ".md5"}, sends.take())
}

// Each server has its own metric, so each counts and reports the files it
// could not get.
func TestWhatCannotBeCarriedIsReportedForEachServer(t *testing.T) {
	r1, r2 := startRemote(t, nil), startRemote(t, nil)
	p, _ := newPlugin(t, r1.addr(), r2.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "commands/a=b.rcmd", "command: uptime")

	acc := gather(t, p)
	require.Len(t, acc.Errors, 2)
	for _, r := range []*remote{r1, r2} {
		require.Equal(t, int64(1), configFields(t, acc, r.addr())["config_files_failed"])
		require.Contains(t, fmt.Sprint(acc.Errors), r.addr()+": config sync: commands/a=b.rcmd is not sent")
	}
}

func TestANameThatWouldBreakALogLineIsQuoted(t *testing.T) {
	err := nameRefusal(cfgFile{dir: "conf", name: "a\n+b.conf"})
	require.EqualError(t, err, `"conf/a\n+b.conf" is not sent: rename it: invalid Tentacle file name: "a\n+b.conf" holds '+', which Tentacle forbids in names (?[]/\=+<>:;',*~)`)
	require.NoError(t, nameRefusal(cfgFile{dir: "conf", name: "fc_1.conf"}))
}

func TestWithoutStateTheServersFilesDecide(t *testing.T) {
	var sends sendLog
	r := startRemote(t, recordSends(&sends))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	same := map[string]string{
		"conf/" + agentHash + ".conf": "agent_name host01\n",
		"md5/" + agentHash + ".md5":   "md5-1",
		"collections/fc_1.zip":        "PK-1",
		"md5/fc_1.md5":                "fc-md5",
		"commands/lonely.rcmd":        "no md5 file vouches for this one",
	}
	for rel, data := range same {
		putCentral(t, p, rel, data)
		r.put(t, rel, []byte(data))
	}
	// The collection's md5 file matches but its zip differs: the md5 file
	// vouches for the zip, as it does for the agents.
	r.put(t, "collections/fc_1.zip", []byte("PK-other"))
	// This agent's md5 file differs: its configuration is pushed too.
	putCentral(t, p, "conf/other.conf", "agent_name host02\n")
	putCentral(t, p, "md5/other.md5", "md5-new")
	r.put(t, "conf/other.conf", []byte("agent_name host02\n"))
	r.put(t, "md5/other.md5", []byte("md5-old"))

	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, []string{"other.conf", "other.md5"}, sends.take())
	require.Equal(t, int64(2), configFields(t, acc, r.addr())["config_files_sent"])

	acc = gather(t, p)
	require.Empty(t, sends.take(), "what was found in step is now known")
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()))
}

func TestCollectionAboveTheServersLimitIsRefusedByName(t *testing.T) {
	r := startRemote(t, func(cfg *server.Config) { cfg.MaxSize = 1000 })
	r.put(t, "host01.1.data", agentFile("host01"))
	p, log := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "collections/big.zip", strings.Repeat("z", 5000))
	putCentral(t, p, "md5/big.md5", "big-md5")
	putCentral(t, p, "conf/small.conf", "fits")

	acc := gather(t, p)
	require.Equal(t, counts(1, 1, 4, 0, 0, 2), configFields(t, acc, r.addr()),
		"the data pull is unaffected; the zip is refused and its md5 file held back")
	require.Len(t, acc.Errors, 2)
	require.ErrorContains(t, acc.Errors[0], "collections/big.zip of 5000 bytes")
	require.ErrorContains(t, acc.Errors[0], "file is too big")
	require.ErrorContains(t, acc.Errors[0], "-m limit (2000000 bytes unless the server sets -m)")
	require.ErrorContains(t, acc.Errors[1], "md5/big.md5 held back")
	require.NoFileExists(t, filepath.Join(r.dir, "md5", "big.md5"), "no agent is told of a collection the server lacks")
	require.NoFileExists(t, filepath.Join(r.dir, "collections", "big.zip"))
	require.Empty(t, log.Errors())

	acc = gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 2), configFields(t, acc, r.addr()), "reported each gather until -m is raised")
}

func TestServerWithoutOverwriteIsReported(t *testing.T) {
	r := startRemote(t, func(cfg *server.Config) { cfg.Overwrite = false })
	r.put(t, "conf/"+agentHash+".conf", []byte("old"))
	r.put(t, "md5/"+agentHash+".md5", []byte("old-md5"))
	r.put(t, "host01.1.data", agentFile("host01"))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "conf/"+agentHash+".conf", "new")
	putCentral(t, p, "md5/"+agentHash+".md5", "new-md5")

	acc := gather(t, p)
	require.Equal(t, counts(1, 0, 0, 0, 0, 2), configFields(t, acc, r.addr()))
	require.ErrorContains(t, acc.Errors[0], "conf/"+agentHash+".conf: server refused SEND <"+agentHash+".conf>: file already exists")
	require.ErrorContains(t, acc.Errors[0], "the server runs without -o")
	require.Equal(t, "old-md5", readFile(t, filepath.Join(r.dir, "md5", agentHash+".md5")))
}

func TestOnlyWhatWasPushedAndDeletedCentrallyIsRemoved(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "conf/uploaded.conf", []byte("agent_name host01\n")) // first contact
	r.put(t, "collections/theirs.zip", []byte("PK-not-ours"))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "collections/fc_1.zip", "PK-1")
	putCentral(t, p, "md5/fc_1.md5", "fc-md5")
	putCentral(t, p, "collections/fc_2.zip", "PK-2")
	putCentral(t, p, "md5/fc_2.md5", "fc2-md5")
	gather(t, p)
	require.FileExists(t, filepath.Join(r.dir, "collections", "fc_1.zip"))

	// The console deletes a collection and the agent; someone replaces
	// fc_2.zip on the server by hand.
	for _, rel := range []string{"collections/fc_1.zip", "md5/fc_1.md5", "conf/uploaded.conf", "collections/fc_2.zip", "md5/fc_2.md5"} {
		require.NoError(t, os.Remove(filepath.Join(p.SpoolDir, rel)))
	}
	r.put(t, "collections/fc_2.zip", []byte("PK-by-hand"))

	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, counts(0, 0, 0, 0, 3, 0), configFields(t, acc, r.addr()))
	requireMovedAway(t, filepath.Join(r.dir, "collections", "fc_1.zip"))
	requireMovedAway(t, filepath.Join(r.dir, "md5", "fc_1.md5"))
	requireMovedAway(t, filepath.Join(r.dir, "md5", "fc_2.md5"))
	require.Equal(t, "PK-by-hand", readFile(t, filepath.Join(r.dir, "collections", "fc_2.zip")), "changed since pushed: not ours to remove")
	require.FileExists(t, filepath.Join(r.dir, "collections", "theirs.zip"), "never pushed: never removed")
	require.FileExists(t, filepath.Join(r.dir, "conf", "uploaded.conf"), "pulled, not pushed: never removed")
	require.NoFileExists(t, filepath.Join(p.SpoolDir, "conf", "uploaded.conf"), "deleted centrally: not pulled back in")

	acc = gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()))
	require.NoFileExists(t, filepath.Join(p.SpoolDir, "conf", "uploaded.conf"))
}

func TestConfigSyncOffTouchesNoConfiguration(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "conf/"+agentHash+".conf", []byte("agent_name host01\n"))
	p, _ := newPlugin(t, r.addr())
	p.ConfigSync = false
	p.StateDir = filepath.Join(t.TempDir(), "never-made")
	putCentral(t, p, "conf/central.conf", "x")
	require.NoError(t, p.Init())
	acc := gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()))
	require.NoFileExists(t, filepath.Join(r.dir, "conf", "central.conf"))
	require.NoDirExists(t, p.StateDir)
}

func TestInitMakesStateDir(t *testing.T) {
	p, _ := newPlugin(t, "10.0.0.1")
	p.StateDir = filepath.Join(t.TempDir(), "lib", "tentaclesync")
	require.NoError(t, p.Init())
	info, err := os.Stat(p.StateDir)
	require.NoError(t, err)
	require.True(t, info.IsDir())
	require.Equal(t, os.FileMode(0o750), info.Mode().Perm())

	p.StateDir = filepath.Join("tentaclesync.go", "state")
	require.ErrorContains(t, p.Init(), "state_dir")
	p.StateDir = ""
	require.ErrorContains(t, p.Init(), "state_dir")
}

func TestBrokenConfigConnectionDecidesTheResult(t *testing.T) {
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) == 1 {
			answerLS(conn, r, ".\n..\n") // the data pull: nothing waiting
			_, _ = r.ReadString('\n')    // QUIT
			return
		}
		_, _ = r.ReadString('\n') // LS <tentaclesync.conf>
		_, _ = io.WriteString(conn, "garbage\n")
	})
	p, _ := newPlugin(t, addr)
	require.NoError(t, p.Init())
	acc := gather(t, p)
	m := metricFor(t, acc, addr)
	require.Equal(t, "protocol_error", m.Tags()["result"], "the data pull went well, but the server did not")
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], addr+": config sync: listing conf/")
}

func TestUnreadableStateFallsBackToComparing(t *testing.T) {
	var sends sendLog
	r := startRemote(t, recordSends(&sends))
	p, log := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "conf/a.conf", "agent_name a\n")
	putCentral(t, p, "md5/a.md5", "a-md5")
	gather(t, p)
	require.Equal(t, []string{"a.conf", "a.md5"}, sends.take())

	stateFile := filepath.Join(p.StateDir, state.FileName(r.addr()))
	require.NoError(t, os.WriteFile(stateFile, []byte("{not json"), 0o640))
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Empty(t, sends.take(), "the server's md5 file shows it is in step")
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "state_dir")
	st, err := state.Load(p.StateDir, r.addr())
	require.NoError(t, err, "rewritten whole")
	require.Len(t, st.Files, 2)
}

func TestUnreadableCentralSideChangesNothing(t *testing.T) {
	r := startRemote(t, nil)
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	putCentral(t, p, "collections/fc_1.zip", "PK-1")
	putCentral(t, p, "conf/a.conf", "agent_name a\n")
	gather(t, p)
	require.FileExists(t, filepath.Join(r.dir, "collections", "fc_1.zip"))

	// collections/ is no longer a directory that can be read.
	require.NoError(t, os.RemoveAll(filepath.Join(p.SpoolDir, "collections")))
	putCentral(t, p, "collections", "not a directory")
	putCentral(t, p, "conf/a.conf", "agent_name a, edited\n")
	acc := gather(t, p)
	require.Equal(t, counts(0, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()))
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "reading the central configuration, nothing done")
	require.FileExists(t, filepath.Join(r.dir, "collections", "fc_1.zip"), "a file it cannot see is not a deleted file")
	require.Equal(t, "agent_name a\n", readFile(t, filepath.Join(r.dir, "conf", "a.conf")))
}

// TestHostileConfigListingIsLeftAlone plays a server whose configuration
// listings hold names that would leave the spool, and whose one plausible
// conf file announces a terabyte.
func TestHostileConfigListingIsLeftAlone(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		listings := map[string]string{
			"LS <tentaclesync.conf>": "../../etc/x.conf\n/abs.conf\nsub/a.conf\n" + spool.TempPrefix + "A.conf\nok.conf\n",
			"LS <tentaclesync.md5>":  "../x.md5\nok.md5\n",
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(cmd, "LS <"):
				listing := ".\n..\n" + listings[cmd]
				fmt.Fprintf(conn, "LS SIZE %d\n", len(listing))
				_, _ = r.ReadString('\n') // LS OK
				_, _ = io.WriteString(conn, listing)
			case cmd == "RECV <ok.conf>":
				_, _ = io.WriteString(conn, "RECV SIZE 1099511627776\n")
			case strings.HasPrefix(cmd, "RECV ERR"): // the decline
			default:
				return
			}
		}
	})
	p, _ := newPlugin(t, addr)
	require.NoError(t, p.Init())
	acc := gather(t, p)
	fields := configFields(t, acc, addr)
	require.Equal(t, counts(0, 0, 0, 0, 0, 1), fields)
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "pulling conf/ok.conf: declined RECV <ok.conf> of 1099511627776 bytes: file too big: above max_file_size")
	require.Empty(t, listAll(t, filepath.Dir(p.SpoolDir)), "nothing written anywhere")
}

// listAll names every file below dir.
func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == spool.PullLockDir {
			return filepath.SkipDir // the locks of the pulls, not files
		}
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	}))
	return files
}

// A second tentaclesync on the same spool (a -once beside Telegraf's) pulls
// data but leaves the configuration, and its state, to the first.
func TestOnlyTheFirstProcessOnASpoolSyncsConfiguration(t *testing.T) {
	r := startRemote(t, nil)
	first, _ := newPlugin(t, r.addr())
	require.NoError(t, first.Init())
	putCentral(t, first, "conf/"+agentHash+".conf", "v1")
	r.put(t, "host01.1.data", agentFile("host01"))

	second, log := newPlugin(t, r.addr())
	second.SpoolDir = first.SpoolDir
	require.NoError(t, second.Init())
	acc := gather(t, second)
	require.Equal(t, counts(1, 0, 0, 0, 0, 0), configFields(t, acc, r.addr()))
	var said []string
	for _, e := range log.Messages() {
		said = append(said, e.Text)
	}
	require.Contains(t, strings.Join(said, "\n"), "only that one syncs configuration")

	acc = gather(t, first)
	require.Equal(t, counts(0, 1, 2, 0, 0, 0), configFields(t, acc, r.addr()))
}
