package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// The client package tests every command through the Go client; these tests
// speak raw bytes to pin the quirks a well-behaved client never shows.

func start(t *testing.T, cfg server.Config) (*server.Server, string) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	srv, err := server.Start("127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, cfg.Dir
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

func connect(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &conn{Conn: c, r: bufio.NewReader(c)}
}

func (c *conn) say(t *testing.T, line string) {
	t.Helper()
	_, err := io.WriteString(c, line)
	require.NoError(t, err)
}

func (c *conn) answer(t *testing.T) string {
	t.Helper()
	line, err := c.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

func (c *conn) closedByServer(t *testing.T) {
	t.Helper()
	_, err := c.r.ReadString('\n')
	// A close with unread input reaches the client as a reset.
	if !errors.Is(err, syscall.ECONNRESET) {
		require.ErrorIs(t, err, io.EOF)
	}
}

func TestServerClosesOnWhatItDoesNotUnderstand(t *testing.T) {
	srv, _ := start(t, server.Config{Insecure: true})
	for name, line := range map[string]string{
		"unknown command":          "HELO\n",
		"two commands in one read": "LS <>\nLS <>\n",
		"command over 2 KiB":       "RECV <" + strings.Repeat("a", 3000) + ">\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := connect(t, srv.Addr())
			c.say(t, line)
			c.closedByServer(t)
		})
	}
}

func TestQuitClosesWithoutAnswer(t *testing.T) {
	srv, _ := start(t, server.Config{})
	c := connect(t, srv.Addr())
	c.say(t, "QUIT\n")
	c.closedByServer(t)
}

func TestForbiddenNamesAnswerErr(t *testing.T) {
	srv, _ := start(t, server.Config{Insecure: true})
	c := connect(t, srv.Addr())
	for _, cmd := range []string{"MV", "RECV", "LS"} {
		c.say(t, cmd+" <../etc/passwd>\n")
		require.Equal(t, cmd+" ERR", c.answer(t))
	}
	c.say(t, "SEND <a;b> SIZE 3\n")
	require.Equal(t, "SEND ERR (invalid file name)", c.answer(t))
}

func TestSendCreatesTheFileBeforeItsBytesArrive(t *testing.T) {
	srv, dir := start(t, server.Config{})
	c := connect(t, srv.Addr())
	c.say(t, "SEND <slow.data> SIZE 5\n")
	require.Equal(t, "SEND OK", c.answer(t))
	info, err := os.Stat(filepath.Join(dir, "slow.data"))
	require.NoError(t, err)
	require.Zero(t, info.Size(), "an upload in progress shows as a 0-byte file")
	c.say(t, "hello")
	require.Equal(t, "SEND OK", c.answer(t))
	got, _ := os.ReadFile(filepath.Join(dir, "slow.data"))
	require.Equal(t, "hello", string(got))
}

func TestMoveDeletesWithoutAcknowledgement(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true})
	path := filepath.Join(dir, "gone.data")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("x", 100)), 0o644))
	c := connect(t, srv.Addr())
	c.say(t, "MV <gone.data>\n")
	require.Equal(t, "MV SIZE 100", c.answer(t))
	c.say(t, "MV OK\n")
	_, err := c.r.ReadByte()
	require.NoError(t, err)
	c.Close() // the client breaks after one byte
	require.Eventually(t, func() bool { _, err := os.Stat(path); return os.IsNotExist(err) },
		5*time.Second, 10*time.Millisecond, "the server deletes the file although the client never got it")
}

func TestDeclineIsAnyAnswerButOK(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k.data"), []byte("k"), 0o644))
	c := connect(t, srv.Addr())
	c.say(t, "MV <k.data>\n")
	require.Equal(t, "MV SIZE 1", c.answer(t))
	// The decline gets no answer, so it must fill the server's 1 KiB read on
	// its own or the next command would be glued to it.
	c.say(t, "no thanks"+strings.Repeat(" ", 1024-len("no thanks")-1)+"\n")
	c.say(t, "RECV <k.data>\n")
	require.Equal(t, "RECV SIZE 1", c.answer(t), "the server kept the file and read the next command")
}

func TestDeclineSwallowsACommandGluedToIt(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true, Timeout: 50 * time.Millisecond, Retries: 1})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k.data"), []byte("k"), 0o644))
	c := connect(t, srv.Addr())
	c.say(t, "MV <k.data>\n")
	require.Equal(t, "MV SIZE 1", c.answer(t))
	c.say(t, "MV ERR\nRECV <k.data>\n")
	// Both lines were read as one declining answer: RECV is never answered
	// and the server hangs up once the connection has been idle.
	c.closedByServer(t)
	require.FileExists(t, filepath.Join(dir, "k.data"))
}

func TestListingHasDotEntriesAndSubdirectories(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "conf"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.data"), []byte("a"), 0o644))
	c := connect(t, srv.Addr())
	c.say(t, "LS <>\n")
	answer := c.answer(t)
	require.Equal(t, "LS SIZE 17", answer) // ".\n..\nconf\na.data\n"
	c.say(t, "LS OK\n")
	body := make([]byte, 17)
	_, err := io.ReadFull(c.r, body)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{".", "..", "conf", "a.data"}, strings.Fields(string(body)))
}

// recorder sees what the server does to its connections.
type recorder struct {
	net.Listener
	mu      sync.Mutex
	writes  []int
	noDelay []bool
}

type recordedConn struct {
	*net.TCPConn
	rec *recorder
}

func (r *recorder) Accept() (net.Conn, error) {
	c, err := r.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordedConn{TCPConn: c.(*net.TCPConn), rec: r}, nil
}

func (c *recordedConn) Write(b []byte) (int, error) {
	c.rec.mu.Lock()
	c.rec.writes = append(c.rec.writes, len(b))
	c.rec.mu.Unlock()
	return c.TCPConn.Write(b)
}

func (c *recordedConn) SetNoDelay(on bool) error {
	c.rec.mu.Lock()
	c.rec.noDelay = append(c.rec.noDelay, on)
	c.rec.mu.Unlock()
	return c.TCPConn.SetNoDelay(on)
}

func TestBodiesGoOutIn1KiBWritesWithNagleOn(t *testing.T) {
	rec := recvThroughRecorder(t, server.Config{})
	require.Equal(t, []bool{false}, rec.noDelay, "Nagle's algorithm stays on")
	require.Equal(t, []int{len("RECV SIZE 3000\n"), 1024, 1024, 952}, rec.writes)
}

func TestNoDelayTurnsNagleOffAndKeeps1KiBWrites(t *testing.T) {
	rec := recvThroughRecorder(t, server.Config{NoDelay: true})
	require.Equal(t, []bool{true}, rec.noDelay)
	require.Equal(t, []int{len("RECV SIZE 3000\n"), 1024, 1024, 952}, rec.writes)
}

func TestBodyBlockSetsTheWriteSize(t *testing.T) {
	rec := recvThroughRecorder(t, server.Config{BodyBlock: 2048})
	require.Equal(t, []int{len("RECV SIZE 3000\n"), 2048, 952}, rec.writes)
}

// recvThroughRecorder RECVs a 3000-byte file from a server with cfg and
// returns what the server did to the connection.
func recvThroughRecorder(t *testing.T, cfg server.Config) *recorder {
	cfg.Dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfg.Dir, "f.data"), make([]byte, 3000), 0o644))
	srv, err := server.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rec := &recorder{Listener: ln}
	go func() { _ = srv.Serve(rec) }()
	t.Cleanup(func() { srv.Close() })

	c := connect(t, ln.Addr().String())
	c.say(t, "RECV <f.data>\n")
	require.Equal(t, "RECV SIZE 3000", c.answer(t))
	c.say(t, "RECV OK\n")
	_, err = io.ReadFull(c.r, make([]byte, 3000))
	require.NoError(t, err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	return &recorder{writes: slices.Clone(rec.writes), noDelay: slices.Clone(rec.noDelay)}
}

func TestConnectionsBeyondTheLimitWait(t *testing.T) {
	srv, _ := start(t, server.Config{MaxConns: 1})
	first := connect(t, srv.Addr())
	first.say(t, "RECV <none>\n")
	require.Equal(t, "RECV ERR", first.answer(t))

	second := connect(t, srv.Addr())
	second.say(t, "RECV <none>\n")
	require.NoError(t, second.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err := second.r.ReadString('\n')
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "no slot: the second connection is not served yet")

	first.say(t, "QUIT\n")
	require.NoError(t, second.SetReadDeadline(time.Now().Add(10*time.Second)))
	require.Equal(t, "RECV ERR", second.answer(t), "served once the first left")
}

func TestParseFilters(t *testing.T) {
	filters, err := server.ParseFilters(server.PandoraFilters)
	require.NoError(t, err)
	require.Len(t, filters, 5)
	require.Equal(t, "conf", filters[0].Dir)
	require.True(t, filters[0].Pattern.MatchString("abc.conf"))
	_, err = server.ParseFilters("no-dir")
	require.Error(t, err)
	_, err = server.ParseFilters("(:dir")
	require.Error(t, err)
}

func TestServerCloseEndsEverything(t *testing.T) {
	srv, _ := start(t, server.Config{})
	c := connect(t, srv.Addr())
	require.NoError(t, srv.Close())
	c.closedByServer(t)
	_, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
	require.Error(t, err)
}
