package tentaclesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// These tests upload agent files to a server that behaves as the reference
// Perl tentacle_server does (see tentacle-protocol.md, "How the reference
// server writes, moves and limits") while the plugin gathers from it: an
// upload is written under its final name in 8 KiB writes, visible to LS and
// MV while half written, and MV sends a file to its end whatever size it
// announced. That is how agents and the plugin meet on an isolated network.

const (
	raceFiles     = 30      // uploads per run: enough to meet, few enough for -race on 2 cores
	raceUploaders = 3       // connections the uploads are spread over, so that several are in flight at once
	raceFileSize  = 1 << 20 // about what a busy agent sends; 128 writes of 8 KiB each
	racePause     = 100 * time.Millisecond
	raceGiveUp    = 60 * time.Second // a bound, not an expectation: a run takes a few seconds
)

// raceUpload is one agent data file an uploader sends.
type raceUpload struct {
	name string
	data []byte
	// stalls: the server holds this upload half written for racePause, as
	// a writer on a slow or busy disk does. A MV meeting it then gets a
	// copy that does not grow while it is sent, so only the wholeness
	// check can tell it is cut short. Without stalls the race is rare:
	// this server writes 1 MB in about a millisecond, and in ten runs
	// without them no file was ever met half written.
	stalls bool
}

// raceUploads returns n agent files with unique names and contents. Their
// sizes differ, so that cuts at 8 KiB boundaries fall at different places
// of the XML; only the last bytes of each file hold </agent_data>, so no
// cut can look whole.
func raceUploads(n int) []raceUpload {
	files := make([]raceUpload, n)
	for i := range files {
		name := fmt.Sprintf("agent%02d.%d.data", i%10, 1700000000+i)
		var b bytes.Buffer
		fmt.Fprintf(&b, "<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='agent%02d' timestamp='%d' interval='300'>\n", i%10, i)
		for m := 0; b.Len() < raceFileSize+i*997; m++ {
			fmt.Fprintf(&b, "<module><name><![CDATA[m%05d]]></name><type>generic_data</type><data><![CDATA[%d]]></data></module>\n", m, i*1_000_003+m)
		}
		b.WriteString("</agent_data>\n")
		files[i] = raceUpload{name: name, data: b.Bytes(), stalls: i%2 == 1}
	}
	return files
}

// startRaceRemote is a server with the reference server's unsafe behaviour:
// visible uploads and MV/RECV streamed to the end of the file. Uploads that
// stall are held once, halfway through.
func startRaceRemote(t *testing.T, files []raceUpload) *remote {
	t.Helper()
	stalls := map[string]bool{}
	for _, f := range files {
		stalls[f.name] = f.stalls
	}
	half := int64(raceFileSize / 2 / 8192 * 8192)
	return startRemote(t, func(cfg *server.Config) {
		cfg.VisibleUploads = true
		cfg.StreamToEOF = true
		cfg.UploadPause = func(path string, written int64) {
			// Read-only map: called from the server's session goroutines.
			if written == half && stalls[filepath.Base(path)] {
				time.Sleep(racePause)
			}
		}
	})
}

// uploadAll sends the files over raceUploaders connections with the
// project's client, each connection its share in turn. The channel gets the
// outcome once every upload has been answered, that is once every file is
// whole on the server (or already moved away by the plugin).
func uploadAll(ctx context.Context, addr string, files []raceUpload) <-chan error {
	done := make(chan error, 1)
	var wg sync.WaitGroup
	errs := make([]error, raceUploaders)
	for u := range raceUploaders {
		wg.Go(func() {
			c, err := tentacle.Dial(ctx, addr, tentacle.Options{Timeout: 10 * time.Second})
			if err != nil {
				errs[u] = fmt.Errorf("uploader %d: %w", u, err)
				return
			}
			defer c.Quit()
			for i := u; i < len(files); i += raceUploaders {
				f := files[i]
				if err := c.Send(ctx, f.name, int64(len(f.data)), bytes.NewReader(f.data)); err != nil {
					errs[u] = fmt.Errorf("uploader %d: SEND %s: %w", u, f.name, err)
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		done <- errors.Join(errs...)
	}()
	return done
}

// remoteDataFiles lists the .data files at the remote's root.
func remoteDataFiles(t *testing.T, r *remote) []string {
	t.Helper()
	entries, err := os.ReadDir(r.dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".data") {
			names = append(names, e.Name())
		}
	}
	return names
}

// gatherWhileUploading uploads the files and gathers in a tight loop until
// the uploads are done and the remote holds no .data file. It returns the
// errors the gathers added to their accumulators.
func gatherWhileUploading(t *testing.T, p *TentacleSync, r *remote, files []raceUpload) []error {
	t.Helper()
	uploaded := uploadAll(t.Context(), r.addr(), files)
	giveUp := time.Now().Add(raceGiveUp)
	var errs []error
	done := false
	for gathers := 0; ; gathers++ {
		// Done before the listing: once the uploads are answered, a
		// file still there is one the plugin has yet to take.
		if !done {
			select {
			case err := <-uploaded:
				require.NoError(t, err, "the uploads must all be accepted")
				done = true
			default:
			}
		}
		left := remoteDataFiles(t, r)
		if done && len(left) == 0 {
			t.Logf("%d gathers", gathers)
			return errs
		}
		if time.Now().After(giveUp) {
			require.FailNowf(t, "the plugin did not drain the server",
				"after %s and %d gathers: uploads done %v, still on the server: %v; errors: %v",
				raceGiveUp, gathers, done, left, errs)
		}
		errs = append(errs, gather(t, p).Errors...)
	}
}

// newRacePlugin is the plugin pulling from r as an isolated network's
// central side would, data files only.
func newRacePlugin(t *testing.T, r *remote, transfer string, minFileAge time.Duration) (*TentacleSync, *testutil.CaptureLogger) {
	t.Helper()
	p, log := newPlugin(t, r.addr())
	p.Transfer = transfer
	p.MinFileAge = config.Duration(minFileAge)
	p.Connections = 4
	p.ConfigSync = false
	require.NoError(t, p.Init())
	return p, log
}

// requireAllWhole wants the spool to hold every file, byte for byte under
// its own name, and nothing else: no .incomplete file either.
func requireAllWhole(t *testing.T, files []raceUpload, spoolDir string) {
	t.Helper()
	got := spoolFiles(t, spoolDir)
	for _, f := range files {
		data, ok := got[f.name]
		require.True(t, ok, "%s is missing from the spool", f.name)
		// Not require.Equal: a diff of two 1 MB files says nothing.
		require.True(t, bytes.Equal(f.data, data), "%s arrived with %d bytes, not its %d", f.name, len(data), len(f.data))
		delete(got, f.name)
	}
	require.Empty(t, slices.Sorted(maps.Keys(got)), "no other file, and no .incomplete one, may be in the spool")
}

func TestUploadsWhileGatheringArriveWhole(t *testing.T) {
	for _, transfer := range []string{transferMove, transferVerified} {
		t.Run(transfer, func(t *testing.T) {
			files := raceUploads(raceFiles)
			r := startRaceRemote(t, files)
			// Several times the longest an upload here stays half
			// written (its stall, plus a few ms of writes), and short
			// enough for a quick test.
			p, log := newRacePlugin(t, r, transfer, 5*racePause)

			errs := gatherWhileUploading(t, p, r, files)

			require.Empty(t, errs, "no gather may fail")
			require.Empty(t, log.Errors(), "nothing may be kept aside or lost")
			requireAllWhole(t, files, p.SpoolDir)
		})
	}
}

func TestWithoutSettlingATruncatedUploadIsNeverPublished(t *testing.T) {
	t.Run(transferMove, func(t *testing.T) {
		files := raceUploads(raceFiles)
		r := startRaceRemote(t, files)
		// No settling: the plugin moves files as soon as they are listed,
		// half-written ones included.
		p, log := newRacePlugin(t, r, transferMove, 0)

		errs := gatherWhileUploading(t, p, r, files)

		require.Empty(t, errs, "a file that is not whole fails alone, not the gather")
		got := spoolFiles(t, p.SpoolDir)
		logged := log.Errors()
		var whole, aside []string
		for _, f := range files {
			data, published := got[f.name]
			if published {
				// Under its name the Data Server takes it: it must be
				// the file the agent sent, never a prefix of it.
				require.True(t, bytes.Equal(f.data, data), "%s is in the spool with %d bytes, not its %d", f.name, len(data), len(f.data))
				whole = append(whole, f.name)
			}
			kept := f.name + spool.IncompleteSuffix
			_, isAside := got[kept]
			if isAside {
				// The server deleted it as it sent it, and the writer
				// went on writing into the deleted file: what came is
				// all there is, and the administrator must be told.
				require.True(t, slices.ContainsFunc(logged, func(line string) bool {
					return strings.Contains(line, strconv.Quote(f.name)) && strings.Contains(line, kept)
				}), "%s is kept aside but no error names it: %v", kept, logged)
				aside = append(aside, f.name)
			}
			// Names are unique and the server is drained by one puller:
			// no file can arrive twice, nor be neither here nor aside.
			require.True(t, published != isAside, "%s: in the spool %v, kept aside %v", f.name, published, isAside)
			delete(got, f.name)
			delete(got, kept)
		}
		require.Empty(t, slices.Sorted(maps.Keys(got)), "only the uploads, whole or kept aside, may be in the spool")
		require.Len(t, logged, len(aside), "one error per file kept aside, and no other: %v", logged)
		// Not asserted: a run may meet no upload half written.
		t.Logf("%d whole, %d kept aside", len(whole), len(aside))
	})

	t.Run(transferVerified, func(t *testing.T) {
		files := raceUploads(raceFiles)
		r := startRaceRemote(t, files)
		p, log := newRacePlugin(t, r, transferVerified, 0)

		errs := gatherWhileUploading(t, p, r, files)

		// A copy of a half-written file is dropped and the file left on
		// the server (RECV deletes nothing); a later gather copies it
		// whole, and only then moves it.
		require.Empty(t, errs, "no gather may fail")
		require.Empty(t, log.Errors(), "no file may be kept aside or lost: the server keeps what was not copied whole")
		requireAllWhole(t, files, p.SpoolDir)
		// Not asserted: a run may meet no upload half written.
		dropped := 0
		for _, line := range log.Warnings() {
			if strings.Contains(line, "left on the server") {
				dropped++
			}
		}
		t.Logf("%d copies dropped as not whole", dropped)
	})
}
