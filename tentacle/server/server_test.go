package server_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

func (c *conn) body(t *testing.T, n int) string {
	t.Helper()
	buf := make([]byte, n)
	_, err := io.ReadFull(c.r, buf)
	require.NoError(t, err)
	return string(buf)
}

// list answers LS <name> with the names listed.
func (c *conn) list(t *testing.T, name string) []string {
	t.Helper()
	c.say(t, "LS <"+name+">\n")
	var size int
	_, err := fmt.Sscanf(c.answer(t), "LS SIZE %d", &size)
	require.NoError(t, err)
	c.say(t, "LS OK\n")
	return strings.Split(strings.TrimSuffix(c.body(t, size), "\n"), "\n")
}

// served returns once a server with MaxConns 1 answers a new connection,
// which it does only after every earlier session has ended.
func served(t *testing.T, addr string) {
	t.Helper()
	c := connect(t, addr)
	c.say(t, "RECV <=>\n") // a forbidden name: answered at once, changes nothing
	require.Equal(t, "RECV ERR", c.answer(t))
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool { _, err := os.Stat(path); return errors.Is(err, fs.ErrNotExist) },
		5*time.Second, time.Millisecond, "the server deletes %s", path)
}

// pattern is n bytes that show where a copy was cut.
func pattern(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%07d\n", i)
	}
	return b.String()[:n]
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

// pauser holds a VisibleUploads upload before each of its writes until the
// test lets it go on.
type pauser struct {
	paused chan int64
	resume chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newPauser() *pauser {
	return &pauser{paused: make(chan int64), resume: make(chan struct{}), done: make(chan struct{})}
}

func (p *pauser) pause(_ string, written int64) {
	select {
	case p.paused <- written:
	case <-p.done:
		return
	}
	select {
	case <-p.resume:
	case <-p.done:
	}
}

// next is the bytes written when the upload paused next.
func (p *pauser) next(t *testing.T) int64 {
	t.Helper()
	select {
	case written := <-p.paused:
		return written
	case <-time.After(10 * time.Second):
		t.Fatal("the upload never paused")
		return 0
	}
}

func (p *pauser) goOn() { p.resume <- struct{}{} }

// release lets every upload finish; a server's Close waits for them.
func (p *pauser) release() { p.once.Do(func() { close(p.done) }) }

func zipped(t *testing.T, data string) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("x")
	require.NoError(t, err)
	_, err = io.WriteString(w, data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.String()
}

func TestVisibleUploadsGrowIn8KiBWrites(t *testing.T) {
	data := pattern(20000)
	for verb, payload := range map[string]string{"SEND": data, "ZSEND": zipped(t, data)} {
		t.Run(verb, func(t *testing.T) {
			p := newPauser()
			srv, dir := start(t, server.Config{Insecure: true, VisibleUploads: true, UploadPause: p.pause})
			t.Cleanup(p.release)
			up := connect(t, srv.Addr())
			up.say(t, fmt.Sprintf("%s <big.data> SIZE %d\n", verb, len(payload)))
			require.Equal(t, verb+" OK", up.answer(t))
			up.say(t, payload)

			look := connect(t, srv.Addr())
			for _, want := range []int64{0, 8192, 16384} {
				require.Equal(t, want, p.next(t))
				require.Contains(t, look.list(t, ""), "big.data", "listed with %d of %d bytes written", want, len(data))
				info, err := os.Stat(filepath.Join(dir, "big.data"))
				require.NoError(t, err)
				require.Equal(t, want, info.Size())
				p.goOn()
			}
			require.Equal(t, verb+" OK", up.answer(t))
			got, err := os.ReadFile(filepath.Join(dir, "big.data"))
			require.NoError(t, err)
			require.Equal(t, data, string(got))
		})
	}
}

func uploadsIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tentacle-upload-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestUploadIsHiddenUntilComplete(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true})
	data := pattern(20000)
	up := connect(t, srv.Addr())
	up.say(t, "SEND <half.data> SIZE 20000\n")
	require.Equal(t, "SEND OK", up.answer(t))
	up.say(t, data[:10000])
	var tmp string
	require.Eventually(t, func() bool {
		names := uploadsIn(t, dir)
		if len(names) != 1 {
			return false
		}
		tmp = names[0]
		info, err := os.Stat(filepath.Join(dir, tmp))
		return err == nil && info.Size() == 10000
	}, 5*time.Second, time.Millisecond, "half the body is in one temporary file")

	look := connect(t, srv.Addr())
	require.ElementsMatch(t, []string{".", ".."}, look.list(t, ""))
	look.say(t, "RECV <half.data>\n")
	require.Equal(t, "RECV ERR", look.answer(t))
	for _, cmd := range []string{"RECV", "ZRECV", "MV"} {
		look.say(t, cmd+" <"+tmp+">\n")
		require.Equal(t, cmd+" ERR", look.answer(t), "no command can name an upload in progress")
	}
	look.say(t, "SEND <"+tmp+"> SIZE 1\n")
	require.Equal(t, "SEND ERR (invalid file name)", look.answer(t))

	up.say(t, data[10000:])
	require.Equal(t, "SEND OK", up.answer(t))
	require.ElementsMatch(t, []string{".", "..", "half.data"}, look.list(t, ""))
	got, err := os.ReadFile(filepath.Join(dir, "half.data"))
	require.NoError(t, err)
	require.Equal(t, data, string(got))
	require.Empty(t, uploadsIn(t, dir))
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	for name, cfg := range map[string]server.Config{
		"default":        {MaxConns: 1},
		"VisibleUploads": {MaxConns: 1, VisibleUploads: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, dir := start(t, cfg)
			c := connect(t, srv.Addr())
			c.say(t, "SEND <cut.data> SIZE 100\n")
			require.Equal(t, "SEND OK", c.answer(t))
			c.say(t, pattern(50))
			c.Close()
			served(t, srv.Addr())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries)
		})
	}
}

func TestUploadWithoutOverwriteNeverReplaces(t *testing.T) {
	srv, dir := start(t, server.Config{})
	first, second := connect(t, srv.Addr()), connect(t, srv.Addr())
	for _, c := range []*conn{first, second} {
		c.say(t, "SEND <once.data> SIZE 5\n")
		require.Equal(t, "SEND OK", c.answer(t), "both pass the check before either is stored")
	}
	first.say(t, "first")
	require.Equal(t, "SEND OK", first.answer(t))
	second.say(t, "secnd")
	require.Equal(t, "SEND ERR (file already exists)", second.answer(t))
	got, err := os.ReadFile(filepath.Join(dir, "once.data"))
	require.NoError(t, err)
	require.Equal(t, "first", string(got))
	require.Empty(t, uploadsIn(t, dir))
}

func TestZSendOfABadArchiveAnswersErr(t *testing.T) {
	for name, cfg := range map[string]server.Config{
		"default":        {},
		"VisibleUploads": {VisibleUploads: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, dir := start(t, cfg)
			c := connect(t, srv.Addr())
			c.say(t, "ZSEND <z.data> SIZE 5\n")
			require.Equal(t, "ZSEND OK", c.answer(t))
			c.say(t, "hello")
			require.Equal(t, "ZSEND ERR", c.answer(t))
			c.say(t, "RECV <z.data>\n")
			require.Equal(t, "RECV ERR", c.answer(t), "nothing stored, and the session goes on")
			require.Empty(t, uploadsIn(t, dir))
		})
	}
}

// grow answers MV SIZE for a 100-byte file, then appends 50 bytes before
// the client's OK.
func grow(t *testing.T, cfg server.Config) (c *conn, path string) {
	cfg.Insecure = true
	srv, dir := start(t, cfg)
	path = filepath.Join(dir, "grow.data")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("a", 100)), 0o644))
	c = connect(t, srv.Addr())
	c.say(t, "MV <grow.data>\n")
	require.Equal(t, "MV SIZE 100", c.answer(t))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(strings.Repeat("b", 50))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	c.say(t, "MV OK\n")
	return c, path
}

func TestStreamToEOFSendsMoreThanAnnounced(t *testing.T) {
	c, path := grow(t, server.Config{StreamToEOF: true})
	require.Equal(t, strings.Repeat("a", 100), c.body(t, 100))
	require.Equal(t, strings.Repeat("b", 50), c.body(t, 50), "the surplus follows where the next answer belongs")
	waitGone(t, path)
}

func TestMoveSendsExactlyTheAnnouncedSize(t *testing.T) {
	c, path := grow(t, server.Config{})
	require.Equal(t, strings.Repeat("a", 100), c.body(t, 100))
	c.say(t, "RECV <=>\n")
	require.Equal(t, "RECV ERR", c.answer(t), "nothing beyond the announced size")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, got, 150, "a file that grew while moved is kept whole")
}

func TestMoveOfAShrunkFileEndsTheConnection(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true})
	path := filepath.Join(dir, "shrink.data")
	data := pattern(3000)
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	c := connect(t, srv.Addr())
	c.say(t, "MV <shrink.data>\n")
	require.Equal(t, "MV SIZE 3000", c.answer(t))
	require.NoError(t, os.Truncate(path, 1000))
	c.say(t, "MV OK\n")
	got, err := io.ReadAll(c.r)
	require.NoError(t, err)
	require.Equal(t, data[:1000], string(got), "what there is, then the end of the connection")
	require.FileExists(t, path)
}

func TestMoveKeepsAFileReplacedWhileSent(t *testing.T) {
	srv, dir := start(t, server.Config{Insecure: true, Overwrite: true})
	path := filepath.Join(dir, "v.data")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	mover := connect(t, srv.Addr())
	mover.say(t, "MV <v.data>\n")
	require.Equal(t, "MV SIZE 3", mover.answer(t))
	up := connect(t, srv.Addr())
	up.say(t, "SEND <v.data> SIZE 3\n")
	require.Equal(t, "SEND OK", up.answer(t))
	up.say(t, "new")
	require.Equal(t, "SEND OK", up.answer(t))
	mover.say(t, "MV OK\n")
	require.Equal(t, "old", mover.body(t, 3))
	mover.say(t, "RECV <=>\n")
	require.Equal(t, "RECV ERR", mover.answer(t))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "new", string(got), "the move took the old file and left the new one")
}

func TestFailedSendKeepsTheFile(t *testing.T) {
	for name, cfg := range map[string]server.Config{
		"default":     {Insecure: true, MaxConns: 1},
		"StreamToEOF": {Insecure: true, MaxConns: 1, StreamToEOF: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv, dir := start(t, cfg)
			// Far more than the socket buffers hold, so the server is still
			// writing when the reset arrives; sparse, so it costs no disk.
			const size = 64 << 20
			path := filepath.Join(dir, "big.data")
			f, err := os.Create(path)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(size))
			require.NoError(t, f.Close())

			c := connect(t, srv.Addr())
			c.say(t, "MV <big.data>\n")
			require.Equal(t, fmt.Sprintf("MV SIZE %d", size), c.answer(t))
			c.say(t, "MV OK\n")
			c.body(t, 10)
			require.NoError(t, c.Conn.(*net.TCPConn).SetLinger(0))
			require.NoError(t, c.Close())

			served(t, srv.Addr())
			info, err := os.Stat(path)
			require.NoError(t, err, "the session ended before the delete")
			require.EqualValues(t, size, info.Size())
		})
	}
}

// twoMoves has two clients ask to move one file, then the first take it.
func twoMoves(t *testing.T, cfg server.Config) (second *conn) {
	cfg.Insecure = true
	srv, dir := start(t, cfg)
	path := filepath.Join(dir, "one.data")
	require.NoError(t, os.WriteFile(path, []byte("hello"), 0o644))
	first, second := connect(t, srv.Addr()), connect(t, srv.Addr())
	for _, c := range []*conn{first, second} {
		c.say(t, "MV <one.data>\n")
		require.Equal(t, "MV SIZE 5", c.answer(t))
	}
	first.say(t, "MV OK\n")
	require.Equal(t, "hello", first.body(t, 5))
	waitGone(t, path)
	second.say(t, "MV OK\n")
	return second
}

func TestTwoMovesOfOneFile(t *testing.T) {
	t.Run("StreamToEOF: the second connection ends without a byte", func(t *testing.T) {
		second := twoMoves(t, server.Config{StreamToEOF: true})
		_, err := second.r.ReadByte()
		require.ErrorIs(t, err, io.EOF)
	})
	t.Run("default: both get the file", func(t *testing.T) {
		second := twoMoves(t, server.Config{})
		require.Equal(t, "hello", second.body(t, 5))
	})
}
