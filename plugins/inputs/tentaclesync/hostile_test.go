package tentaclesync

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// mvAnswer plays a server that lists a.1.data and answers its MV with
// answer, then does whatever rest does.
func mvAnswer(answer string, rest func(net.Conn, *bufio.Reader)) func(net.Conn, *bufio.Reader) {
	return func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\n")
		_, _ = r.ReadString('\n') // MV <a.1.data>
		_, _ = io.WriteString(conn, answer)
		if rest != nil {
			rest(conn, r)
		}
	}
}

func waitForMore(conn net.Conn, r *bufio.Reader) { _, _ = io.Copy(io.Discard, r) }

type hostileCase struct {
	script  func(net.Conn, *bufio.Reader)
	result  string
	error   string // in the error reported for the hostile server
	skipped int64  // left on the server on purpose
	failed  int64
}

var hostileCases = map[string]hostileCase{
	"names that leave the spool": {
		script: func(conn net.Conn, r *bufio.Reader) {
			answerLS(conn, r, ".\n..\nsub/a.data\n../up.data\n/abs.data\n..\\\\win.data\nnul\x00.data\n"+
				spool.TempPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAA.tmp.data\n"+
				strings.Repeat("l", 300)+".data\n")
			waitForMore(conn, r) // any MV would time out
		},
		result: "success", skipped: 7,
	},
	"a listing above the bound": {
		script: func(conn net.Conn, r *bufio.Reader) {
			_, _ = r.ReadString('\n')
			_, _ = io.WriteString(conn, "LS SIZE 1099511627776\n")
			waitForMore(conn, r)
		},
		result: "protocol_error", error: "listing of 1099511627776 bytes exceeds the bound",
	},
	"a negative size": {
		script: mvAnswer("MV SIZE -1\n", waitForMore), result: "protocol_error", error: `MV SIZE -1`,
	},
	"a size that is no number": {
		script: mvAnswer("MV SIZE 12ab\n", waitForMore), result: "protocol_error", error: `MV SIZE 12ab`,
	},
	"a size above any int64": {
		script: mvAnswer("MV SIZE 99999999999999999999\n", waitForMore), result: "protocol_error", error: "99999999999999999999",
	},
	"a size above max_file_size": {
		// 1 GiB against max_file_size = 1 MiB: declined, and the server
		// keeps the file, so it is skipped, not failed.
		script: mvAnswer("MV SIZE 1073741824\n", waitForMore), result: "success", skipped: 1,
	},
	"fewer bytes than announced, then a close": {
		script: mvAnswer("MV SIZE 1000\n", func(conn net.Conn, r *bufio.Reader) {
			_, _ = r.ReadString('\n')
			_, _ = io.WriteString(conn, strings.Repeat("x", 999))
		}),
		result: "connection_failed", error: "after 999 of 1000 bytes", failed: 1,
	},
	"a byte now and then, forever": {
		script: mvAnswer("MV SIZE 1000\n", func(conn net.Conn, r *bufio.Reader) {
			_, _ = r.ReadString('\n')
			for {
				if _, err := io.WriteString(conn, "x"); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond) // each read is quick: only the whole-body deadline ends it
			}
		}),
		result: "timeout", error: "MV <a.1.data>: transfer broke", failed: 1,
	},
	"no answer at all": {
		script: waitForMore, result: "timeout", error: "i/o timeout",
	},
	"garbage instead of an answer": {
		script: func(conn net.Conn, r *bufio.Reader) {
			_, _ = r.ReadString('\n')
			_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\n\r\n")
			waitForMore(conn, r)
		},
		result: "protocol_error", error: "HTTP/1.1 400 Bad Request",
	},
	"binary noise without a newline": {
		script: func(conn net.Conn, r *bufio.Reader) {
			_, _ = r.ReadString('\n')
			_, _ = conn.Write(make([]byte, 64<<10))
			waitForMore(conn, r)
		},
		result: "protocol_error",
	},
}

// Every hostile server is synced beside a good one: it gets a clear error on
// its own metric, and nothing else happens.
func TestHostileServersGetAClearErrorAndNothingElse(t *testing.T) {
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFiles(t)
	for name, tc := range hostileCases {
		t.Run(name, func(t *testing.T) {
			hostile := scripted.Serve(t, tc.script)
			p := hostilePlugin(t, hostile, nil)
			checkHostile(t, p, hostile, tc)
		})
		requireNoLeak(t, baseGoroutines, baseFDs)
	}
}

func TestServersWithTheWrongCertificateAreRefused(t *testing.T) {
	dir := t.TempDir()
	ours, err := testcerts.Write(dir, "ours")
	require.NoError(t, err)
	theirs, err := testcerts.Write(dir, "theirs")
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		addr string
		cert *testcerts.Set
		want string
	}{
		// 127.0.0.2 is loopback too, but not a name in our server certificate.
		"for another name": {"127.0.0.2:0", ours, "certificate is valid for 127.0.0.1, ::1, not 127.0.0.2"},
		"from another CA":  {"127.0.0.1:0", theirs, "certificate signed by unknown authority"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, err := server.Start(tc.addr, server.Config{Dir: t.TempDir(), Insecure: true, TLSConfig: tc.cert.ServerConfig(false)})
			require.NoError(t, err)
			t.Cleanup(func() { srv.Close() })
			p := hostilePlugin(t, srv.Addr(), ours)
			checkHostile(t, p, srv.Addr(), hostileCase{result: "tls_failed", error: tc.want})
		})
	}
}

// hostilePlugin is a plugin for the hostile server and a good Go server
// holding one file, with TLS from certs when that is set. The spool sits
// alone in a directory of its own, so a file written beside it shows.
func hostilePlugin(t *testing.T, hostile string, certs *testcerts.Set) *TentacleSync {
	t.Helper()
	good := startRemote(t, func(c *server.Config) {
		if certs != nil {
			c.TLSConfig = certs.ServerConfig(false)
		}
	})
	good.put(t, "good.1.data", []byte(agentXML("good")))
	p, _ := newPlugin(t, hostile, good.addr())
	p.ConfigSync = false // the scripts play the data pull only
	p.SpoolDir = filepath.Join(t.TempDir(), "spool")
	require.NoError(t, os.Mkdir(p.SpoolDir, 0o755))
	p.Timeout = config.Duration(time.Second)
	p.Retries = 0
	p.MaxFileSize = config.Size(1 << 20)
	if certs != nil {
		p.TLSCA = certs.CAFile
	}
	require.NoError(t, p.Init())
	return p
}

func checkHostile(t *testing.T, p *TentacleSync, hostile string, tc hostileCase) {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))

	require.Len(t, acc.GetTelegrafMetrics(), 2)
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Tags()["server"] != hostile {
			require.Equal(t, "success", m.Tags()["result"], "the good server is unaffected")
			require.Equal(t, int64(1), m.Fields()["files_received"])
		}
	}
	m := metricFor(t, &acc, hostile)
	require.Equal(t, tc.result, m.Tags()["result"])
	require.Equal(t, int64(0), m.Fields()["files_received"])
	require.Equal(t, tc.skipped, m.Fields()["files_skipped"])
	require.Equal(t, tc.failed, m.Fields()["files_failed"])
	if tc.result != "success" {
		require.Len(t, acc.Errors, 1)
		require.ErrorContains(t, acc.Errors[0], hostile)
		require.ErrorContains(t, acc.Errors[0], tc.error)
	} else {
		require.Empty(t, acc.Errors)
	}
	require.Equal(t, map[string][]byte{"good.1.data": []byte(agentXML("good"))}, spoolFiles(t, p.SpoolDir),
		"no partial file, no temporary file")
	beside, err := os.ReadDir(filepath.Dir(p.SpoolDir))
	require.NoError(t, err)
	require.Len(t, beside, 1, "nothing written outside the spool")
}

// requireNoLeak waits for the goroutines and files of a finished case to
// go, and fails if they stay above where the test started.
func requireNoLeak(t *testing.T, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines || openFiles(t) > fds {
		if time.Now().After(deadline) {
			require.FailNow(t, "leak", "%d goroutines (from %d), %d open files (from %d)\n%s",
				runtime.NumGoroutine(), goroutines, openFiles(t), fds, goroutineDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("needs /proc/self/fd to count open files")
	}
	return len(entries)
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
