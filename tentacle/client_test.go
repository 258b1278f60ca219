package tentacle_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/tentacle"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// pandoraServer starts a Go Tentacle server the way an isolated network runs
// it: -I -o and Pandora's filters, with conf/ md5/ ... present.
func pandoraServer(t *testing.T, tweak func(*server.Config)) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	filters, err := server.ParseFilters(server.PandoraFilters)
	require.NoError(t, err)
	for _, sub := range []string{"conf", "md5", "collections", "trans", "commands"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	cfg := server.Config{Dir: dir, Insecure: true, Overwrite: true, Filters: filters}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := server.Start("127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, dir
}

func dial(t *testing.T, addr string, opts tentacle.Options) *tentacle.Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	c, err := tentacle.Dial(context.Background(), addr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func into(buf *bytes.Buffer) tentacle.AcceptFunc {
	return func(int64) (io.Writer, error) { return buf, nil }
}

func TestSendRecvMoveRoundTrip(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()
	body := bytes.Repeat([]byte("<agent_data/>\n"), 1000)

	require.NoError(t, c.Send(ctx, "a.1.data", int64(len(body)), bytes.NewReader(body)))
	got, err := os.ReadFile(filepath.Join(dir, "a.1.data"))
	require.NoError(t, err)
	require.Equal(t, body, got)

	var recv bytes.Buffer
	n, err := c.Recv(ctx, "a.1.data", into(&recv))
	require.NoError(t, err)
	require.Equal(t, int64(len(body)), n)
	require.Equal(t, body, recv.Bytes())
	require.FileExists(t, filepath.Join(dir, "a.1.data"), "RECV keeps the file")

	var moved bytes.Buffer
	_, err = c.Move(ctx, "a.1.data", into(&moved))
	require.NoError(t, err)
	require.Equal(t, body, moved.Bytes())
	// The server deletes after the last byte and before it reads the next
	// command: one more round trip orders the check after the delete.
	_, err = c.List(ctx, "")
	require.NoError(t, err)
	requireMovedAway(t, filepath.Join(dir, "a.1.data"))
	require.NoError(t, c.Quit())
}

func TestFiltersRouteEveryCommand(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()

	require.NoError(t, c.Send(ctx, "abc.conf", 3, strings.NewReader("x=1")))
	require.FileExists(t, filepath.Join(dir, "conf", "abc.conf"))

	root, err := c.List(ctx, "")
	require.NoError(t, err)
	require.Subset(t, root, []string{".", "..", "conf", "md5", "collections", "trans", "commands"})
	require.NotContains(t, root, "abc.conf")

	conf, err := c.List(ctx, "anything.conf")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{".", "..", "abc.conf"}, conf)

	other, err := c.List(ctx, "x")
	require.NoError(t, err)
	require.ElementsMatch(t, root, other, "LS <x> lists the root")

	var buf bytes.Buffer
	_, err = c.Move(ctx, "abc.conf", into(&buf))
	require.NoError(t, err)
	require.Equal(t, "x=1", buf.String())
	_, err = c.List(ctx, "")
	require.NoError(t, err)
	requireMovedAway(t, filepath.Join(dir, "conf", "abc.conf"))
}

func TestErrAnswersKeepTheConnection(t *testing.T) {
	srv, dir := pandoraServer(t, func(c *server.Config) { c.Overwrite = false; c.MaxSize = 10 })
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()
	var re *tentacle.RemoteError

	err := c.Send(ctx, "empty.data", 0, strings.NewReader(""))
	require.ErrorAs(t, err, &re)
	require.Equal(t, "file is too big", re.Reason, "the server never accepts an empty file")

	err = c.Send(ctx, "big.data", 11, strings.NewReader("01234567890"))
	require.ErrorAs(t, err, &re)
	require.Equal(t, "file is too big", re.Reason)

	require.NoError(t, c.Send(ctx, "once.data", 4, strings.NewReader("abcd")))
	err = c.Send(ctx, "once.data", 4, strings.NewReader("efgh"))
	require.ErrorAs(t, err, &re)
	require.Equal(t, "file already exists", re.Reason)

	_, err = c.Move(ctx, "missing.data", into(new(bytes.Buffer)))
	require.ErrorAs(t, err, &re)
	require.Equal(t, "MV", re.Cmd)

	_, err = c.Move(ctx, "conf", into(new(bytes.Buffer)))
	require.ErrorAs(t, err, &re, "MV of a directory answers ERR")
	_, err = c.Recv(ctx, "md5", into(new(bytes.Buffer)))
	require.ErrorAs(t, err, &re, "RECV of a directory answers ERR")

	var buf bytes.Buffer
	_, err = c.Recv(ctx, "once.data", into(&buf))
	require.NoError(t, err, "the connection survives every ERR")
	require.Equal(t, "abcd", buf.String())
	got, _ := os.ReadFile(filepath.Join(dir, "once.data"))
	require.Equal(t, "abcd", string(got))
}

func TestOverwrite(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()
	require.NoError(t, c.Send(ctx, "h.md5", 4, strings.NewReader("aaaa")))
	require.NoError(t, c.Send(ctx, "h.md5", 2, strings.NewReader("bb")))
	got, _ := os.ReadFile(filepath.Join(dir, "md5", "h.md5"))
	require.Equal(t, "bb", string(got))
}

func TestDeclineKeepsTheFile(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keep.data"), []byte("payload"), 0o644))
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()

	errTooBig := errors.New("too big for us")
	_, err := c.Move(ctx, "keep.data", func(size int64) (io.Writer, error) {
		require.Equal(t, int64(7), size)
		return nil, errTooBig
	})
	var de *tentacle.DeclinedError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, errTooBig)
	require.FileExists(t, filepath.Join(dir, "keep.data"))

	var buf bytes.Buffer
	_, err = c.Move(ctx, "keep.data", into(&buf))
	require.NoError(t, err, "the server reads the next command after a decline")
	require.Equal(t, "payload", buf.String())
}

func TestZipCommands(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{})
	ctx := context.Background()

	var archive bytes.Buffer
	zw := zip.NewWriter(&archive)
	w, err := zw.Create("whatever/name.txt")
	require.NoError(t, err)
	_, _ = w.Write([]byte("module_begin"))
	require.NoError(t, zw.Close())
	require.NoError(t, c.ZSend(ctx, "z.conf", int64(archive.Len()), &archive))
	got, err := os.ReadFile(filepath.Join(dir, "conf", "z.conf"))
	require.NoError(t, err)
	require.Equal(t, "module_begin", string(got), "ZSEND stores the member's content under the command's name")

	var back bytes.Buffer
	_, err = c.ZRecv(ctx, "z.conf", into(&back))
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(back.Bytes()), int64(back.Len()))
	require.NoError(t, err)
	require.Len(t, zr.File, 1)
	require.Equal(t, filepath.Join(dir, "conf", "z.conf"), "/"+strings.TrimPrefix(zr.File[0].Name, "/"),
		"the member is named with the server's full local path")
}

func TestPassword(t *testing.T) {
	srv, dir := pandoraServer(t, func(c *server.Config) { c.Password = "s3cret" })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.data"), []byte("x"), 0o644))
	ctx := context.Background()

	good := dial(t, srv.Addr(), tentacle.Options{})
	require.NoError(t, good.Auth(ctx, "s3cret"))
	_, err := good.List(ctx, "")
	require.NoError(t, err)

	bad := dial(t, srv.Addr(), tentacle.Options{})
	err = bad.Auth(ctx, "wrong")
	require.ErrorIs(t, err, tentacle.ErrAuthRejected)
	require.NotContains(t, err.Error(), tentacle.PasswordDigest("wrong"))
	_, err = bad.List(ctx, "")
	require.Error(t, err, "a rejected connection stays unusable")

	missing := dial(t, srv.Addr(), tentacle.Options{})
	_, err = missing.List(ctx, "")
	require.ErrorIs(t, err, tentacle.ErrServerClosed, "no PASS: the server closes without a word")
}

func TestPasswordDigest(t *testing.T) {
	// hex(md5(md5("pandora"))) with the inner digest raw, as the reference
	// server computes it; checked with perl -MDigest::MD5 -e 'print Digest::MD5::md5_hex(Digest::MD5::md5("pandora"))'.
	require.Equal(t, "9ba1c4c7aeebfa552d5f62f5bbabf51c", tentacle.PasswordDigest("pandora"))
}

func TestTLS(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir(), "good")
	require.NoError(t, err)
	other, err := testcerts.Write(t.TempDir(), "other")
	require.NoError(t, err)
	ctx := context.Background()

	t.Run("server certificate", func(t *testing.T) {
		srv, _ := pandoraServer(t, func(c *server.Config) { c.TLSConfig = certs.ServerConfig(false) })
		c := dial(t, srv.Addr(), tentacle.Options{TLSConfig: certs.ClientConfig(false)})
		_, err := c.List(ctx, "")
		require.NoError(t, err)
	})
	t.Run("mutual", func(t *testing.T) {
		srv, dir := pandoraServer(t, func(c *server.Config) {
			c.TLSConfig = certs.ServerConfig(true)
			c.Password = "pw"
		})
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a.data"), []byte("data"), 0o644))
		c := dial(t, srv.Addr(), tentacle.Options{TLSConfig: certs.ClientConfig(true)})
		require.NoError(t, c.Auth(ctx, "pw"))
		var buf bytes.Buffer
		_, err := c.Move(ctx, "a.data", into(&buf))
		require.NoError(t, err)
		require.Equal(t, "data", buf.String())
	})
	t.Run("mutual without client certificate", func(t *testing.T) {
		srv, _ := pandoraServer(t, func(c *server.Config) { c.TLSConfig = certs.ServerConfig(true) })
		// With TLS 1.3 the client finishes its handshake before the server
		// judges it; the refusal arrives as an alert on the first read.
		c, err := tentacle.Dial(ctx, srv.Addr(), tentacle.Options{TLSConfig: certs.ClientConfig(false), Timeout: 5 * time.Second})
		if err == nil {
			defer c.Close()
			_, err = c.List(ctx, "")
		}
		require.ErrorContains(t, err, "certificate required")
	})
	t.Run("unknown authority", func(t *testing.T) {
		srv, _ := pandoraServer(t, func(c *server.Config) { c.TLSConfig = other.ServerConfig(false) })
		_, err := tentacle.Dial(ctx, srv.Addr(), tentacle.Options{TLSConfig: certs.ClientConfig(false), Timeout: 5 * time.Second})
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown)
	})
	t.Run("plain client against TLS server", func(t *testing.T) {
		srv, _ := pandoraServer(t, func(c *server.Config) { c.TLSConfig = certs.ServerConfig(false) })
		c := dial(t, srv.Addr(), tentacle.Options{})
		_, err := c.List(ctx, "")
		require.Error(t, err)
	})
}

func TestInsecureOperationsNeedDashI(t *testing.T) {
	srv, _ := pandoraServer(t, func(c *server.Config) { c.Insecure = false })
	ctx := context.Background()
	c := dial(t, srv.Addr(), tentacle.Options{})
	_, err := c.List(ctx, "")
	require.ErrorIs(t, err, tentacle.ErrServerClosed)

	c = dial(t, srv.Addr(), tentacle.Options{})
	_, err = c.Move(ctx, "a.data", into(new(bytes.Buffer)))
	require.ErrorIs(t, err, tentacle.ErrServerClosed)
}

func TestIdleConnectionIsClosed(t *testing.T) {
	srv, _ := pandoraServer(t, func(c *server.Config) { c.Timeout = 100 * time.Millisecond; c.Retries = 1 })
	c := dial(t, srv.Addr(), tentacle.Options{})
	_, err := c.List(context.Background(), "")
	require.NoError(t, err)
	// A silent connection opened well after c's last command is closed
	// after c: its end tells when c's idle time has passed.
	time.Sleep(100 * time.Millisecond)
	probe, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	require.NoError(t, err)
	defer probe.Close()
	require.NoError(t, probe.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(probe)
	require.NoError(t, err, "the server hangs up on its own once the idle time has passed")
	_, err = c.List(context.Background(), "")
	require.ErrorIs(t, err, tentacle.ErrServerClosed)
}

func TestListBound(t *testing.T) {
	srv, _ := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{MaxListSize: 10})
	_, err := c.List(context.Background(), "")
	var de *tentacle.DeclinedError
	require.ErrorAs(t, err, &de)
	_, err = c.List(context.Background(), "a.conf")
	require.NoError(t, err, "a declined listing leaves the connection usable")
}

func TestClientRefusesUnsafeNames(t *testing.T) {
	srv, _ := pandoraServer(t, nil)
	c := dial(t, srv.Addr(), tentacle.Options{})
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "a\nQUIT", "a>b", "x\x00y", strings.Repeat("n", 300)} {
		_, err := c.Move(context.Background(), name, into(new(bytes.Buffer)))
		require.ErrorIs(t, err, tentacle.ErrInvalidName, "%q", name)
	}
	_, err := c.List(context.Background(), "")
	require.NoError(t, err, "refused names never reach the wire")
}

func TestContextCancelStopsAnOperation(t *testing.T) {
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			defer conn.Close()
			_, _ = io.Copy(io.Discard, conn)
		}
	}()
	c := dial(t, ln.Addr().String(), tentacle.Options{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.List(ctx, "")
	require.ErrorIs(t, err, context.Canceled)
}

func TestTruncatedMoveIsATransferError(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		_, _ = r.ReadString('\n') // MV <a.data>
		_, _ = io.WriteString(conn, "MV SIZE 100\n")
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, "only ten b")
	})
	c := dial(t, addr, tentacle.Options{})
	var buf bytes.Buffer
	n, err := c.Move(context.Background(), "a.data", into(&buf))
	var te *tentacle.TransferError
	require.ErrorAs(t, err, &te)
	require.False(t, te.Local)
	require.Equal(t, int64(10), te.Got)
	require.Equal(t, int64(10), n)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestDrippingBodyIsBounded(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		_, _ = r.ReadString('\n')
		_, _ = io.WriteString(conn, "MV SIZE 100\n")
		_, _ = r.ReadString('\n')
		for range 200 { // one byte every 20 ms: 4 s for the file
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	c := dial(t, addr, tentacle.Options{Timeout: 300 * time.Millisecond})
	_, err := c.Move(context.Background(), "drip.data", into(new(bytes.Buffer)))
	var te *tentacle.TransferError
	require.ErrorAs(t, err, &te, "the timeout bounds the whole body, not each read")
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Less(t, te.Got, int64(100))
}

func TestGarbageAnswerBreaksTheConnection(t *testing.T) {
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		_, _ = r.ReadString('\n')
		_, _ = io.WriteString(conn, "HELLO THERE\n")
	})
	c := dial(t, addr, tentacle.Options{})
	_, err := c.List(context.Background(), "")
	var pe *tentacle.ProtocolError
	require.ErrorAs(t, err, &pe)
	_, err = c.List(context.Background(), "")
	require.Error(t, err)
}

func TestParseSizeAnswer(t *testing.T) {
	for answer, want := range map[string]int64{"MV SIZE 0": 0, "MV SIZE 12": 12, "MV SIZE 9223372036854775807": 1<<63 - 1} {
		got, err := tentacle.ParseSizeAnswer("MV", answer)
		require.NoError(t, err, answer)
		require.Equal(t, want, got)
	}
	for _, answer := range []string{"MV SIZE -1", "MV SIZE +1", "MV SIZE 1e3", "MV SIZE ", "MV SIZE 9223372036854775808",
		"MV SIZE 12 ", "RECV SIZE 1", "MV  SIZE 1", "MV SIZE 0x10", ""} {
		_, err := tentacle.ParseSizeAnswer("MV", answer)
		var pe *tentacle.ProtocolError
		require.ErrorAs(t, err, &pe, "%q", answer)
	}
	for answer, reason := range map[string]string{"MV ERR": "", "MV ERR (file is too big)": "file is too big"} {
		_, err := tentacle.ParseSizeAnswer("MV", answer)
		var re *tentacle.RemoteError
		require.ErrorAs(t, err, &re, answer)
		require.Equal(t, reason, re.Reason)
	}
}

func TestParseListing(t *testing.T) {
	require.Equal(t, []string{".", "..", "a b.data", "ñ.data"}, tentacle.ParseListing([]byte(".\n..\na b.data\n\nñ.data\n")))
	require.Empty(t, tentacle.ParseListing(nil))
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

// overrunServer announces 10 bytes for MV and sends body, then reads the
// client's probe and answers it as the reference server does; early puts
// the surplus in the socket before the probe is read, as a server still
// streaming a grown file would.
func overrunServer(t *testing.T, body string, early bool) string {
	return scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		_, _ = r.ReadString('\n') // MV <a.data>
		_, _ = io.WriteString(conn, "MV SIZE 10\n")
		_, _ = r.ReadString('\n') // MV OK
		if early {
			_, _ = io.WriteString(conn, body)
		} else {
			_, _ = io.WriteString(conn, body[:10])
		}
		probe, _ := r.ReadString('\n')
		if probe != "RECV <=>\n" {
			return
		}
		if !early {
			_, _ = io.WriteString(conn, body[10:])
		}
		_, _ = io.WriteString(conn, "RECV ERR (file has an invalid file name)\n")
		_, _ = io.Copy(io.Discard, r)
	})
}

func TestBytesBeyondTheAnnouncedSizeAreKeptAndReported(t *testing.T) {
	for name, tc := range map[string]struct {
		body  string
		early bool
	}{
		"waiting after the body":       {"0123456789<more/>\n</agent_data>\n", true},
		"arriving after the probe":     {"0123456789<more/>\n</agent_data>\n", false},
		"no newline before the answer": {"0123456789</agent_data>", false},
		"a surplus of one byte":        {"0123456789x", true},
		"a surplus longer than 1 KiB":  {"0123456789" + strings.Repeat("<m/>\n", 2000), false},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, overrunServer(t, tc.body, tc.early), tentacle.Options{})
			var buf bytes.Buffer
			_, err := c.Move(context.Background(), "a.data", into(&buf))
			var oe *tentacle.OverrunError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, int64(10), oe.Size)
			require.Equal(t, int64(len(tc.body)-10), oe.Extra)
			require.Equal(t, tc.body, buf.String(), "every byte the server sent, and not the probe's answer")
			_, err = c.List(context.Background(), "")
			require.Error(t, err, "the connection is out of step and must not be used")
		})
	}
}

func TestAWholeBodyIsConfirmedAndTheConnectionGoesOn(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	for _, name := range []string{"a.1.data", "b.1.data"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644))
	}
	c := dial(t, srv.Addr(), tentacle.Options{})
	for _, name := range []string{"a.1.data", "b.1.data"} {
		var buf bytes.Buffer
		_, err := c.Move(context.Background(), name, into(&buf))
		require.NoError(t, err)
		require.Equal(t, name, buf.String())
	}
}

func TestAFailingWriterResetsTheConnectionAndTheServerKeepsTheFile(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	// Far more than the socket buffers hold: the server is still writing
	// when the reset comes.
	big := bytes.Repeat([]byte("x"), 64<<20)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.data"), big, 0o644))
	c := dial(t, srv.Addr(), tentacle.Options{})
	_, err := c.Move(context.Background(), "big.data", func(int64) (io.Writer, error) { return failingWriter{}, nil })
	var te *tentacle.TransferError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Local)

	other := dial(t, srv.Addr(), tentacle.Options{})
	var buf bytes.Buffer
	n, err := other.Recv(context.Background(), "big.data", into(&buf))
	require.NoError(t, err)
	require.Equal(t, int64(len(big)), n, "the server kept the whole file")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestNamesAreBytes(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	name := "caf\xe9-pc.12345.data" // Latin-1, as an agent elsewhere may write it
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("latin"), 0o644))
	c := dial(t, srv.Addr(), tentacle.Options{})
	names, err := c.List(context.Background(), "")
	require.NoError(t, err)
	require.Contains(t, names, name)
	var buf bytes.Buffer
	_, err = c.Move(context.Background(), name, into(&buf))
	require.NoError(t, err)
	require.Equal(t, "latin", buf.String())
	for _, bad := range []string{"a\nb", "nul\x00", "a/b", ".."} {
		require.ErrorIs(t, tentacle.CheckName(bad), tentacle.ErrInvalidName, "%q", bad)
	}
}

// An empty file is declined before any OK: nothing would follow the OK for
// the server to finish before it read the next line.
func TestAnEmptyFileIsDeclined(t *testing.T) {
	srv, dir := pandoraServer(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.data"), nil, 0o644))
	c := dial(t, srv.Addr(), tentacle.Options{})
	asked := false
	_, err := c.Move(context.Background(), "empty.data", func(int64) (io.Writer, error) { asked = true; return io.Discard, nil })
	var de *tentacle.DeclinedError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, tentacle.ErrEmpty)
	require.False(t, asked, "the accept function is not asked")
	require.FileExists(t, filepath.Join(dir, "empty.data"), "the server keeps it")
}
