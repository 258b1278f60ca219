package tentaclesync

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// commandLog records every byte clients send to a plain TCP server.
type commandLog struct {
	net.Listener
	mu    sync.Mutex
	conns []*bytes.Buffer
}

func (l *commandLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := &bytes.Buffer{}
	l.conns = append(l.conns, buf)
	return &teeConn{Conn: c, mu: &l.mu, buf: buf}, nil
}

// commands are the command lines received, over all connections, and the
// number of connections.
func (l *commandLog) commands() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for _, buf := range l.conns {
		for line := range strings.Lines(buf.String()) {
			if line = strings.TrimSpace(line); line != "" {
				lines = append(lines, line)
			}
		}
	}
	return lines, len(l.conns)
}

type teeConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// startLoggedRemote is startRemote whose clients' commands are recorded.
func startLoggedRemote(t *testing.T) (*remote, *commandLog) {
	t.Helper()
	r := &remote{dir: t.TempDir()}
	for _, sub := range []string{"conf", "md5"} {
		require.NoError(t, os.Mkdir(filepath.Join(r.dir, sub), 0o755))
	}
	filters, err := server.ParseFilters(server.PandoraFilters)
	require.NoError(t, err)
	r.srv, err = server.New(server.Config{Dir: r.dir, Insecure: true, Overwrite: true, Filters: filters})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.address = ln.Addr().String()
	log := &commandLog{Listener: ln}
	go func() { _ = r.srv.Serve(log) }()
	t.Cleanup(func() { r.srv.Close() })
	return r, log
}

// newCheckPlugin is a plugin made for Check, initialised; its state_dir
// does not exist.
func newCheckPlugin(t *testing.T, servers ...string) *TentacleSync {
	t.Helper()
	p, _ := newPlugin(t, servers...)
	p.checkOnly = true
	p.StateDir = filepath.Join(p.StateDir, "not-yet")
	require.NoError(t, p.Init())
	return p
}

func check(t *testing.T, p *TentacleSync) (string, bool) {
	t.Helper()
	var out strings.Builder
	ok := p.Check(t.Context(), &out)
	return out.String(), ok
}

// Over plain TCP each decline needs a fresh connection, so sizing is
// bounded; the server is only ever listed and asked for sizes.
func TestCheckOverPlainTCPSizesABoundedNumberAndNeitherMovesNorSends(t *testing.T) {
	r, log := startLoggedRemote(t)
	const n = maxSized + 5
	files := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("agent%03d.1.data", i)
		files[name] = agentFile(name)
		r.put(t, name, files[name])
	}
	r.put(t, "conf/a.conf", []byte("agent_name a\n"))
	p := newCheckPlugin(t, r.addr())
	putCentral(t, p, "conf/b.conf", "agent_name b\n")

	out, ok := check(t, p)
	require.True(t, ok, out)
	size := int64(len(agentFile("agent000.1.data")))
	require.Contains(t, out, fmt.Sprintf("data: %d files waiting, %s (first %d sized, 5 more not sized)", n, sizeText(maxSized*size), maxSized))
	require.Contains(t, out, "configuration: 1 to push (conf/b.conf), 1 to pull (conf/a.conf), 0 to remove; 0 in step")
	require.Contains(t, out, "state_dir "+p.StateDir+": does not exist yet")

	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(r.dir, name))
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), name)
	}
	commands, conns := log.commands()
	recvs := 0
	for _, cmd := range commands {
		verb, _, _ := strings.Cut(cmd, " ")
		require.Contains(t, []string{"LS", "RECV", "QUIT"}, verb, "%q", cmd)
		if strings.HasPrefix(cmd, "RECV <agent") {
			recvs++
		}
	}
	require.Equal(t, maxSized, recvs)
	// One connection per decline, and the one the configuration sync
	// starts after the last.
	require.LessOrEqual(t, conns, maxSized+2)
	require.Empty(t, spoolFiles(t, p.SpoolDir))
	require.NoDirExists(t, p.StateDir)
}

func TestCheckOnlyPluginPreparesNothingAndNeverGathers(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.data", agentFile("a"))
	p, _ := newPlugin(t, r.addr())
	p.checkOnly = true
	p.StateDir = filepath.Join(p.StateDir, "not-yet")
	leftover := filepath.Join(p.SpoolDir, ".tentaclesync-ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp")
	require.NoError(t, os.WriteFile(leftover, []byte("half"), 0o644))

	require.NoError(t, p.Init())
	require.FileExists(t, leftover, "no spool recovery")
	require.NoDirExists(t, p.StateDir)
	require.Nil(t, p.recovery, "no hold on the spool")
	require.ErrorIs(t, p.Gather(nil), errCheckOnly)
	require.FileExists(t, filepath.Join(r.dir, "a.data"))

	// A plugin not made for it is refused.
	plain, _ := newPlugin(t, r.addr())
	require.NoError(t, plain.Init())
	out, ok := check(t, plain)
	require.False(t, ok)
	require.Contains(t, out, "not made for a check")
}

func TestCheckFailsWhereAGatherCannotList(t *testing.T) {
	r := startRemote(t, func(cfg *server.Config) { cfg.Insecure = false })
	p := newCheckPlugin(t, r.addr())
	out, ok := check(t, p)
	require.False(t, ok, out)
	require.Contains(t, out, r.addr()+": reachable (plain TCP, no password)")
	require.Contains(t, out, "listing failed (protocol_error)")
	require.Contains(t, out, "-I")
	require.Contains(t, out, "FAILED: 1 of 1 servers unreachable or unusable")
}

func TestCheckSaysWhatMaxFilesPerGatherLeaves(t *testing.T) {
	r := startRemote(t, nil)
	for _, name := range []string{"a.data", "b.data", "c.data"} {
		r.put(t, name, agentFile(name))
	}
	r.put(t, "notes.txt", []byte("x"))
	p, _ := newPlugin(t, r.addr())
	p.checkOnly = true
	p.MaxFilesPerGather = 2
	p.ConfigSync = false
	require.NoError(t, p.Init())
	out, ok := check(t, p)
	require.True(t, ok, out)
	require.Contains(t, out, "data: 3 files waiting")
	require.Contains(t, out, "(first 2 sized, 1 more not sized)")
	require.Contains(t, out, "a gather takes the first 2 (max_files_per_gather)")
	require.Contains(t, out, "not matching include")
	require.Contains(t, out, "configuration sync: off")
}
