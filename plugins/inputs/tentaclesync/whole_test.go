package tentaclesync

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/scripted"
	"github.com/tentaclesync/tentaclesync/tentacle"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// These tests pin the promise that a file arrives whole or is named: never
// a truncated file under a .data name, no false "lost", no silent drop.

// growingMove plays the reference server moving a.1.data that grew after
// its size was taken: it announces the first half and streams the whole
// file, then answers the probe. Later connections serve next, if any.
func growingMove(t *testing.T, whole string, next string) string {
	var conns atomic.Int64
	return scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) > 1 {
			answerFetch(conn, r, "MV", len(next), next)
			_, _ = r.ReadString('\n') // QUIT
			return
		}
		listing := ".\n..\na.1.data\n"
		if next != "" {
			listing += "b.1.data\n"
		}
		answerLS(conn, r, listing)
		_, _ = r.ReadString('\n') // MV <a.1.data>
		fmt.Fprintf(conn, "MV SIZE %d\n", len(whole)/2)
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, whole)
		answerProbe(conn, r)
		_, _ = io.Copy(io.Discard, r)
	})
}

func TestAFileThatGrowsWhileMovedIsKeptAsideWithEveryByte(t *testing.T) {
	whole := agentXML(strings.Repeat("<module/>", 200))
	for name, next := range map[string]string{"last on its connection": "", "with a file after it": agentXML("b")} {
		t.Run(name, func(t *testing.T) {
			addr := growingMove(t, whole, next)
			p, log := newPlugin(t, addr)
			p.ConfigSync = false // the script plays the data pull only
			p.Connections = 1
			require.NoError(t, p.Init())
			acc := gather(t, p)

			want := map[string][]byte{"a.1.data.incomplete": []byte(whole)}
			received := int64(0)
			if next != "" {
				want["b.1.data"] = []byte(next)
				received = 1
			}
			requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
				"files_received": received, "bytes_received": int64(len(next)), "files_failed": int64(1),
			})
			require.Equal(t, want, spoolFiles(t, p.SpoolDir), "the grown file aside with all its bytes, never as a.1.data")
			require.Len(t, log.Errors(), 1)
			require.Contains(t, log.Errors()[0], `"a.1.data" grew while it was moved`)
			require.Contains(t, log.Errors()[0], filepath.Join(p.SpoolDir, "a.1.data.incomplete"))
		})
	}
}

// pausedUpload starts an upload of body as name to a reference-faithful
// server and returns once the server has written its first 8 KiB under the
// final name and paused, as a writer that stalls mid-file; resume lets it
// finish and waits for it.
func pausedUpload(t *testing.T, name, body string) (r *remote, resume func()) {
	held, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r = startRemote(t, func(c *server.Config) {
		c.VisibleUploads, c.StreamToEOF = true, true
		c.UploadPause = func(_ string, written int64) {
			if written == 8192 {
				once.Do(func() { close(held) })
				<-hold
			}
		}
	})
	sent := make(chan error, 1)
	go func() {
		c, err := tentacle.Dial(context.Background(), r.addr(), tentacle.Options{Timeout: 10 * time.Second})
		if err == nil {
			err = c.Send(context.Background(), name, int64(len(body)), strings.NewReader(body))
			c.Quit()
		}
		sent <- err
	}()
	<-held
	var released sync.Once
	release := func() { released.Do(func() { close(hold) }) }
	t.Cleanup(release) // a test that fails early must not leave the server waiting
	return r, func() {
		release()
		require.NoError(t, <-sent)
	}
}

// A writer that pauses longer than min_file_age: move mode takes the
// truncated file, and keeps it aside and names it rather than publish it;
// verified mode leaves it on the server until it is whole.
func TestAFileHalfWrittenPastTheSettleTime(t *testing.T) {
	body := agentXML(strings.Repeat("<module>x</module>\n", 1000))
	t.Run("move", func(t *testing.T) {
		r, resume := pausedUpload(t, "a.1.data", body)
		p, log := newPlugin(t, r.addr())
		p.MinFileAge = config.Duration(50 * time.Millisecond)
		require.NoError(t, p.Init())
		acc := gather(t, p)
		resume()

		m := metricFor(t, acc, r.addr())
		require.Equal(t, int64(0), m.Fields()["files_received"])
		require.Equal(t, int64(1), m.Fields()["files_failed"])
		require.Equal(t, int64(0), m.Fields()["backlog_files"], "gone from the server")
		require.Equal(t, map[string][]byte{"a.1.data.incomplete": []byte(body[:8192])}, spoolFiles(t, p.SpoolDir))
		require.Len(t, log.Errors(), 1)
		require.Contains(t, log.Errors()[0], `"a.1.data" does not end with </agent_data>: its upload was not complete when it was moved`)
	})
	t.Run("verified", func(t *testing.T) {
		r, resume := pausedUpload(t, "a.1.data", body)
		p, log := newPlugin(t, r.addr())
		p.Transfer = transferVerified
		p.MinFileAge = config.Duration(50 * time.Millisecond)
		require.NoError(t, p.Init())
		acc := gather(t, p)

		m := metricFor(t, acc, r.addr())
		require.Equal(t, int64(0), m.Fields()["files_received"])
		require.Equal(t, int64(1), m.Fields()["files_skipped"])
		require.Equal(t, int64(1), m.Fields()["backlog_files"])
		require.Empty(t, spoolFiles(t, p.SpoolDir), "the incomplete copy is dropped")
		require.Len(t, log.Warnings(), 1)
		require.Contains(t, log.Warnings()[0], `the copy of "a.1.data" does not end with </agent_data>`)

		resume()
		acc = gather(t, p)
		require.Equal(t, int64(1), metricFor(t, acc, r.addr()).Fields()["files_received"])
		require.Equal(t, map[string][]byte{"a.1.data": []byte(body)}, spoolFiles(t, p.SpoolDir), "whole, once")
		require.Empty(t, log.Errors())
	})
}

// min_file_age keeps a file on the server until it was listed that long
// ago; a long-running process takes it at a later gather without waiting.
func TestFilesAreTakenOnlyOnceSettled(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", []byte(agentXML("a")))
	p, _ := newPlugin(t, r.addr())
	p.MinFileAge = config.Duration(time.Hour)
	require.NoError(t, p.Init())
	p.targets[0].firstSeen = map[string]time.Time{"old.1.data": time.Now().Add(-2 * time.Hour)}
	r.put(t, "old.1.data", []byte(agentXML("old")))
	acc := gather(t, p)
	m := metricFor(t, acc, r.addr())
	require.Equal(t, int64(1), m.Fields()["files_received"], "only the one first seen an hour ago")
	require.Equal(t, int64(1), m.Fields()["backlog_files"])
	require.Equal(t, map[string][]byte{"old.1.data": []byte(agentXML("old"))}, spoolFiles(t, p.SpoolDir))
	require.FileExists(t, filepath.Join(r.dir, "a.1.data"))
}

// Names are bytes: a Latin-1 name an agent elsewhere wrote is pulled as it
// is.
func TestALatin1NameIsPulled(t *testing.T) {
	r := startRemote(t, nil)
	name := "caf\xe9-pc.12345.data"
	r.put(t, name, []byte(agentXML("latin")))
	p, _ := newPlugin(t, r.addr())
	require.NoError(t, p.Init())
	acc := gather(t, p)
	require.Equal(t, int64(1), metricFor(t, acc, r.addr()).Fields()["files_received"])
	require.Equal(t, map[string][]byte{name: []byte(agentXML("latin"))}, spoolFiles(t, p.SpoolDir))
}

// Two tentaclesyncs on one spool (a -once beside the running one) never
// pull one server at once: the second is told the server is busy.
func TestTwoProcessesNeverPullOneServerAtOnce(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "a.1.data", []byte(agentXML("a")))
	r.put(t, "b.1.data", []byte(agentXML("b")))
	first, _ := newPlugin(t, r.addr())
	first.Connections = 1
	require.NoError(t, first.Init())
	second, log := newPlugin(t, r.addr())
	second.SpoolDir = first.SpoolDir
	second.StateDir = first.StateDir
	require.NoError(t, second.Init())

	inCommit, release := make(chan struct{}), make(chan struct{})
	holdCommit(t, "a.1.data", func() {
		close(inCommit)
		<-release
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		gather(t, first)
	}()
	<-inCommit
	acc := gather(t, second)
	close(release)
	<-done

	requireBusy(t, acc, r.addr())
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "another tentaclesync is pulling from this server")
	require.Equal(t, map[string][]byte{"a.1.data": []byte(agentXML("a")), "b.1.data": []byte(agentXML("b"))},
		spoolFiles(t, first.SpoolDir), "each file once")
}

func TestServersThatReachOneAddressAreRefused(t *testing.T) {
	r := startRemote(t, nil)
	_, port, err := net.SplitHostPort(r.addr())
	require.NoError(t, err)
	p, _ := newPlugin(t, "127.0.0.1:"+port, "localhost:"+port)
	err = p.Init()
	require.ErrorContains(t, err, "are the same server")
	require.ErrorContains(t, err, "list it once")
}

// The guard counts filesystem blocks: files claimed at once over many
// connections never run a tiny spool out of room mid-file, even with
// min_free_space = "0". The server announces every file, and sends the
// bodies only once all the claims are made, as parallel connections may.
func TestDiskGuardCountsBlocksAcrossParallelConnections(t *testing.T) {
	dir := smallDisk(t, "64k") // 16 pages of 4 KiB
	// Just over two blocks each: counted in bytes, six fit in 64 KiB;
	// each takes three blocks, so only five would.
	body := agentXML(strings.Repeat("x", 8193-len(agentXML(""))))
	const files = 6
	listing := ".\n..\n"
	for i := range files {
		listing += fmt.Sprintf("agent%d.1.data\n", i)
	}
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			switch {
			case err != nil || line == "QUIT\n":
				return
			case line == "LS <>\n":
				fmt.Fprintf(conn, "LS SIZE %d\n", len(listing))
				_, _ = r.ReadString('\n')
				_, _ = io.WriteString(conn, listing)
			case strings.HasPrefix(line, "MV <"):
				fmt.Fprintf(conn, "MV SIZE %d\n", len(body))
				if ok, _ := r.ReadString('\n'); ok != "MV OK\n" {
					continue // declined: no room
				}
				time.Sleep(300 * time.Millisecond) // the other connections claim their files
				_, _ = io.WriteString(conn, body)
				answerProbe(conn, r)
			default:
				return
			}
		}
	})
	p, log := newPlugin(t, addr)
	p.SpoolDir = dir
	p.Connections = files
	p.ConfigSync = false
	require.NoError(t, p.MinFreeSpace.UnmarshalText([]byte("0")))
	require.NoError(t, p.Init())
	acc := gather(t, p)

	m := metricFor(t, acc, addr)
	require.Empty(t, acc.Errors, "no file failed for want of room")
	require.Empty(t, log.Errors())
	require.Zero(t, m.Fields()["files_failed"])
	received := m.Fields()["files_received"].(int64)
	require.Positive(t, received)
	require.Equal(t, files-received, m.Fields()["files_deferred"], "the rest waits on the server")
	got := spoolFiles(t, dir)
	require.Len(t, got, int(received))
	for name, data := range got {
		require.Equal(t, body, string(data), name)
	}
	require.Zero(t, p.reserved.Load())
}

// A copy (verified mode) of a file that grew while it was sent: the copy is
// not whole, so nothing is moved and the file waits on the server.
func TestVerifiedModeLeavesAFileThatGrowsWhileCopied(t *testing.T) {
	whole := agentXML(strings.Repeat("<module/>", 200))
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) > 1 {
			_, _ = io.Copy(io.Discard, r)
			return
		}
		answerLS(conn, r, ".\n..\na.1.data\n")
		_, _ = r.ReadString('\n') // RECV <a.1.data>
		fmt.Fprintf(conn, "RECV SIZE %d\n", len(whole)/2)
		_, _ = r.ReadString('\n') // RECV OK
		_, _ = io.WriteString(conn, whole)
		answerProbe(conn, r)
		_, _ = io.Copy(io.Discard, r) // no MV may follow
	})
	p, log := newPlugin(t, addr)
	p.ConfigSync = false
	p.Transfer = transferVerified
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_skipped": int64(1), "backlog_files": int64(1),
	})
	require.Empty(t, spoolFiles(t, p.SpoolDir))
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], `"a.1.data" grew while it was copied`)
	require.Empty(t, log.Errors())
}

// A server that hangs up after announcing a file and before a byte of it:
// the reference server does that when another client took the file in
// between. Not a loss, and not the server's failure.
func TestAFileThatVanishesBeforeItsSendIsNotALoss(t *testing.T) {
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		switch conns.Add(1) {
		case 1:
			answerLS(conn, r, ".\n..\na.1.data\nb.1.data\n")
			_, _ = r.ReadString('\n') // MV <a.1.data>
			_, _ = io.WriteString(conn, "MV SIZE 100\n")
			_, _ = r.ReadString('\n') // MV OK: the file is gone, the thread dies
		case 2:
			answerFetch(conn, r, "MV", len(agentXML("b")), agentXML("b"))
			_, _ = r.ReadString('\n') // QUIT
		default:
			answerLS(conn, r, ".\n..\n") // the check: a.1.data is gone
		}
	})
	p, log := newPlugin(t, addr)
	p.ConfigSync = false
	p.Connections = 1
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(1), "bytes_received": int64(len(agentXML("b"))),
	})
	require.Empty(t, acc.Errors)
	require.Empty(t, log.Errors())
	require.Equal(t, map[string][]byte{"b.1.data": []byte(agentXML("b"))}, spoolFiles(t, p.SpoolDir))
}

// Verified mode: a file that grew between the copy and the move keeps both
// versions, the grown one aside, however whole it looks: the server sent
// more than it announced.
func TestVerifiedModeKeepsAFileThatGrewAfterTheCopyAside(t *testing.T) {
	copied := agentXML("old")
	grown := copied + agentXML("appended")
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		answerLS(conn, r, ".\n..\na.1.data\n")
		answerFetch(conn, r, "RECV", len(copied), copied)
		_, _ = r.ReadString('\n') // MV <a.1.data>
		fmt.Fprintf(conn, "MV SIZE %d\n", len(copied))
		_, _ = r.ReadString('\n') // MV OK
		_, _ = io.WriteString(conn, grown)
		answerProbe(conn, r)
		_, _ = io.Copy(io.Discard, r)
	})
	p, log := newPlugin(t, addr)
	p.ConfigSync = false
	p.Transfer = transferVerified
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "success", 0, map[string]any{
		"files_received": int64(1), "bytes_received": int64(len(copied)), "files_failed": int64(1),
	})
	require.Equal(t, map[string][]byte{"a.1.data": []byte(copied), "a.1.data.incomplete": []byte(grown)}, spoolFiles(t, p.SpoolDir))
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], `"a.1.data" grew after it was copied`)
	require.Contains(t, log.Warnings()[0], "both versions are kept")
}

// The whole body arrived but the probe's answer did not (a stall, a Stop at
// the wrong moment): the end is not proven, and the server has deleted the
// file, so the bytes are kept aside and the loss is named.
func TestAWholeBodyWithoutTheProbesAnswerIsKeptAside(t *testing.T) {
	whole := agentXML(strings.Repeat("<module/>", 50))
	var conns atomic.Int64
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) > 1 {
			answerLS(conn, r, ".\n..\n") // the check: the file is gone
			return
		}
		answerLS(conn, r, ".\n..\na.1.data\n")
		answerFetch(conn, r, "MV", len(whole), "")
		_, _ = io.WriteString(conn, whole)
		_, _ = io.Copy(io.Discard, r) // the probe is never answered
	})
	p, log := newPlugin(t, addr)
	p.ConfigSync = false
	p.Timeout = config.Duration(500 * time.Millisecond)
	require.NoError(t, p.Init())
	acc := gather(t, p)

	requireOnlyMetric(t, acc, addr, "timeout", 4, map[string]any{"files_failed": int64(1)})
	require.Equal(t, map[string][]byte{"a.1.data.incomplete": []byte(whole)}, spoolFiles(t, p.SpoolDir))
	require.Len(t, log.Errors(), 1)
	require.Contains(t, log.Errors()[0], `"a.1.data" is lost`)
	require.Contains(t, log.Errors()[0], "bytes received are kept in "+filepath.Join(p.SpoolDir, "a.1.data.incomplete"))
}

// A file that keeps growing past the bound of the surplus read: the client
// cuts it with a reset, the server's write fails and it keeps the file, so
// it is neither gone nor lost.
func TestASurplusCutShortIsCheckedNotCountedGone(t *testing.T) {
	var conns atomic.Int64
	serverKept := make(chan bool, 1)
	addr := scripted.Serve(t, func(conn net.Conn, r *bufio.Reader) {
		if conns.Add(1) > 1 {
			answerLS(conn, r, ".\n..\na.1.data\n")
			return
		}
		answerLS(conn, r, ".\n..\na.1.data\n")
		answerFetch(conn, r, "MV", 100, "")
		chunk := []byte(strings.Repeat("<m/>\n", 205)[:1024])
		for range 8 << 10 { // 8 MiB, far past the bound
			if _, err := conn.Write(chunk); err != nil {
				serverKept <- true
				return
			}
		}
		serverKept <- false
	})
	p, log := newPlugin(t, addr)
	p.ConfigSync = false
	require.NoError(t, p.Init())
	acc := gather(t, p)

	require.True(t, <-serverKept, "the reset made the server's write fail")
	m := metricFor(t, acc, addr)
	require.Equal(t, int64(1), m.Fields()["files_failed"])
	require.Equal(t, int64(1), m.Fields()["backlog_files"], "the server kept the file")
	require.Empty(t, spoolFiles(t, p.SpoolDir), "its bytes are dropped: the server has it")
	require.Empty(t, log.Errors())
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "still on the server and comes at the next gather")
}

// The second listing of a gather (for files that were settling) takes only
// names not asked for yet: each file's outcome is counted once.
func TestTheSecondListingDecidesEachFileOnce(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "big.data", []byte(agentXML(strings.Repeat("x", 4096))))
	p, _ := newPlugin(t, r.addr())
	p.ConfigSync = false
	p.Include = []string{"*"} // the subdirectories too: MV answers them ERR
	p.MaxFileSize = 1024
	p.MinFileAge = config.Duration(200 * time.Millisecond)
	require.NoError(t, p.Init())
	gather(t, p)                       // all first seen, settled within the gather
	time.Sleep(300 * time.Millisecond) // all settled before the next gather
	r.put(t, "new.data", agentFile("new.data"))
	acc := gather(t, p) // big.data and the directories taken at once, new.data settling

	m := metricFor(t, acc, r.addr())
	require.Equal(t, int64(1), m.Fields()["files_received"], "new.data, after the second listing")
	require.Equal(t, int64(1), m.Fields()["files_skipped"], "big.data, once")
	require.Equal(t, int64(1), m.Fields()["backlog_files"], "big.data is still there")
}

// An empty configuration file on the server (an upload that has only just
// begun) reads back as empty: it differs from the central one, which is
// sent; no connection waits for a body that never comes.
func TestAnEmptyConfigFileOnTheServerIsReplaced(t *testing.T) {
	r := startRemote(t, nil)
	r.put(t, "md5/"+agentHash+".md5", nil)
	r.put(t, "conf/"+agentHash+".conf", []byte("agent_name host01\n"))
	p, _ := newPlugin(t, r.addr())
	putCentral(t, p, "md5/"+agentHash+".md5", "new-md5")
	putCentral(t, p, "conf/"+agentHash+".conf", "agent_name host01\n")
	p.Timeout = config.Duration(time.Second)
	require.NoError(t, p.Init())
	acc := gather(t, p)

	require.Empty(t, acc.Errors)
	require.Equal(t, "success", metricFor(t, acc, r.addr()).Tags()["result"])
	require.Equal(t, "new-md5", readFile(t, filepath.Join(r.dir, "md5", agentHash+".md5")))
}
