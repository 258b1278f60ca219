package tentaclesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/tentaclesync/tentaclesync/internal/state"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// The dry run (-check). It connects, lists and sizes, and never moves,
// sends or writes: no MV, no SEND, no spool or state file, no lock taken,
// so it may run beside a running tentaclesync. Sizes come from RECV
// answered with a decline: the server announces the size, sends nothing and
// keeps the file.

// maxSized bounds the data files sized per server: over plain TCP every
// decline costs a fresh connection (see attempt).
const maxSized = 100

// maxNamed bounds the names printed in one list.
const maxNamed = 5

// errSizeOnly declines a file once its size is known.
var errSizeOnly = errors.New("sizing only")

// PrepareCheck makes every tentaclesync input created from now on one for
// Check: its Init checks the configuration as always but prepares nothing
// (it neither creates state_dir nor recovers or holds the spool), and it
// never gathers. Call it before the configuration is loaded.
func PrepareCheck() {
	create := inputs.Inputs["tentaclesync"]
	inputs.Add("tentaclesync", func() telegraf.Input {
		in := create()
		in.(*TentacleSync).checkOnly = true
		return in
	})
}

var errCheckOnly = errors.New("this tentaclesync was made for -check, which never gathers")

// Check connects to every server (TLS, password), lists it, and writes to w
// what a gather would do: the data files waiting and their size, the files
// that would be skipped and why, the configuration files to push, pull and
// remove. It moves, sends and writes nothing. ok is true when the spool and
// state_dir are usable and every server is reachable and usable.
func (t *TentacleSync) Check(ctx context.Context, w io.Writer) (ok bool) {
	if !t.checkOnly || t.stopping == nil {
		fmt.Fprintln(w, "check: the plugin was not made for a check (PrepareCheck, then Init)")
		return false
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.stopping, cancel)()

	fmt.Fprintln(w, "tentaclesync -check: nothing is moved, sent or written")
	sp, err := spool.Open(t.SpoolDir)
	if err != nil {
		fmt.Fprintf(w, "spool_dir %s: %v\nFAILED\n", t.SpoolDir, err)
		return false
	}
	defer sp.Close()
	ok, room := t.checkLocal(w, sp)

	reports := make([]strings.Builder, len(t.targets))
	usable := make([]bool, len(t.targets))
	var wg sync.WaitGroup
	for i, tgt := range t.targets {
		wg.Go(func() { usable[i] = t.checkServer(ctx, sp, tgt, room, &reports[i]) })
	}
	wg.Wait()
	bad := 0
	for i := range t.targets {
		io.WriteString(w, reports[i].String())
		if !usable[i] {
			bad++
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(w, "FAILED: stopped before the check ended")
		return false
	}
	switch {
	case bad > 0:
		fmt.Fprintf(w, "FAILED: %d of %d servers unreachable or unusable\n", bad, len(t.targets))
	case !ok:
		fmt.Fprintln(w, "FAILED: the central side is not usable")
	default:
		fmt.Fprintf(w, "OK: %d of %d servers reachable and usable\n", len(t.targets), len(t.targets))
	}
	return ok && bad == 0
}

// spoolRoom is what the spool can take before min_free_space; unknown when
// the filesystem does not say.
type spoolRoom struct {
	known bool
	bytes uint64
}

// checkLocal looks at the spool and state_dir without writing to them.
func (t *TentacleSync) checkLocal(w io.Writer, sp *spool.Spool) (ok bool, room spoolRoom) {
	ok = true
	if err := writable(t.SpoolDir); err != nil {
		fmt.Fprintf(w, "spool_dir %s: not writable: %v\n", t.SpoolDir, err)
		ok = false
	} else if r, err := sp.Space(); err != nil {
		fmt.Fprintf(w, "spool_dir %s: writable; free space unknown, min_free_space is not enforced: %v\n", t.SpoolDir, err)
	} else {
		keep := t.MinFreeSpace.of(r.Total)
		room = spoolRoom{known: true, bytes: r.Avail - min(r.Avail, keep)}
		fmt.Fprintf(w, "spool_dir %s: writable; %s free, min_free_space keeps %s (%s)\n",
			t.SpoolDir, sizeText(int64(min(r.Avail, 1<<62))), sizeText(int64(min(keep, 1<<62))), t.MinFreeSpace)
		if room.bytes == 0 {
			fmt.Fprintln(w, "  warning: the spool is below min_free_space: a gather leaves every data file on the servers (files_deferred)")
		}
	}
	if !t.ConfigSync {
		fmt.Fprintln(w, "configuration sync: off (config_sync = false)")
	} else if err := t.checkStateDir(w); err != nil {
		fmt.Fprintf(w, "state_dir %s: %v\n", t.StateDir, err)
		ok = false
	}
	if age := time.Duration(t.MinFileAge); age > maxSettleWait {
		fmt.Fprintf(w, "min_file_age %s is longer than a gather waits (%s): a process takes a file only at a gather %s or more after the one that first listed it\n",
			age, maxSettleWait, age)
	}
	return ok, room
}

// checkStateDir says whether Init could prepare state_dir, as it does
// before a real run, without creating or writing anything.
func (t *TentacleSync) checkStateDir(w io.Writer) error {
	info, err := os.Stat(t.StateDir)
	if err == nil {
		if !info.IsDir() {
			return errors.New("not a directory")
		}
		if err := writable(t.StateDir); err != nil {
			return fmt.Errorf("not writable: %w", err)
		}
		fmt.Fprintf(w, "state_dir %s: writable\n", t.StateDir)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The nearest directory that exists is where Init would create it.
	parent := filepath.Dir(filepath.Clean(t.StateDir))
	for {
		info, err := os.Stat(parent)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("cannot be created: %s is not a directory", parent)
			}
			if err := writable(parent); err != nil {
				return fmt.Errorf("cannot be created in %s: %w", parent, err)
			}
			fmt.Fprintf(w, "state_dir %s: does not exist yet; a real run creates it\n", t.StateDir)
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
			return fmt.Errorf("cannot be created: %w", err)
		}
		parent = filepath.Dir(parent)
	}
}

// checkServer reports on one server; it returns whether the server is
// reachable and usable.
func (t *TentacleSync) checkServer(ctx context.Context, sp *spool.Spool, tgt *target, room spoolRoom, w io.Writer) bool {
	s := t.newSync(sp, tgt, &sync.Once{})
	s.ctx, s.xfer = ctx, ctx
	c, err := s.connect()
	if err != nil {
		fmt.Fprintf(w, "%s: unreachable (%s): %v\n", tgt.addr, classify(err).name, err)
		return false
	}
	cs := &configSync{serverSync: s, c: c, subdirs: map[string]*spool.Spool{}}
	defer cs.close()
	fmt.Fprintf(w, "%s: reachable (%s)\n", tgt.addr, t.how(tgt))
	listing, err := c.List(ctx, "")
	if err != nil {
		fmt.Fprintf(w, "  listing failed (%s): %v\n", classify(err).name, hintFirstCommand(err))
		return false
	}
	if !checkData(cs, listing, room, w) {
		return false
	}
	if !t.ConfigSync {
		return true
	}
	return checkConfig(cs, w)
}

// how says how a connection was made.
func (t *TentacleSync) how(tgt *target) string {
	var parts []string
	switch {
	case tgt.tls == nil:
		parts = append(parts, "plain TCP")
	case len(tgt.tls.Certificates) > 0:
		parts = append(parts, "TLS with a client certificate")
	default:
		parts = append(parts, "TLS")
	}
	if t.Password.Empty() {
		parts = append(parts, "no password")
	} else {
		parts = append(parts, "password accepted")
	}
	return strings.Join(parts, ", ")
}

// checkData reports the data files a gather would take, and those it would
// leave and why. It returns false when the connection failed.
func checkData(cs *configSync, listing []string, room spoolRoom, w io.Writer) bool {
	s, cfg := cs.serverSync, cs.cfg
	others := 0
	for _, name := range listing {
		if name != "." && name != ".." && !cfg.include.Match(name) {
			others++
		}
	}
	names := s.selectNames(slices.Clone(listing))
	var skipped []string
	for _, name := range slices.Compact(slices.Sorted(slices.Values(listing))) {
		if name == "." || name == ".." || !cfg.include.Match(name) {
			continue
		}
		if err := safeName(name); err != nil {
			skipped = append(skipped, fmt.Sprintf("%q: %v", name, err))
		}
	}
	take := names
	if limit := cfg.MaxFilesPerGather; limit > 0 && len(take) > limit {
		take = take[:limit]
	}
	sizing := take[:min(len(take), maxSized)]
	var sized, gone, left int // left: found empty or too big
	var bytes int64
	var connErr error
	for _, name := range sizing {
		var size int64
		err := cs.do(func(c *tentacle.Client) error {
			_, err := c.Recv(cs.ctx, name, func(n int64) (io.Writer, error) {
				size = n
				return nil, errSizeOnly
			})
			return err
		})
		var refused *tentacle.RemoteError
		switch {
		case errors.Is(err, tentacle.ErrEmpty):
			left++
			skipped = append(skipped, fmt.Sprintf("%q: empty, still being uploaded; a later gather takes it", name))
		case errors.Is(err, errSizeOnly) && size > int64(cfg.MaxFileSize):
			left++
			skipped = append(skipped, fmt.Sprintf("%q: %s, above max_file_size (%s)", name, sizeText(size), sizeText(int64(cfg.MaxFileSize))))
		case errors.Is(err, errSizeOnly):
			sized++
			bytes += size
		case errors.As(err, &refused):
			gone++ // taken since the listing, or a directory
		default:
			connErr = err
		}
		if connErr != nil {
			break
		}
	}
	waiting := len(names) - gone - left
	fmt.Fprintf(w, "  data: %s waiting", plural(waiting, "file"))
	if sized > 0 {
		fmt.Fprintf(w, ", %s", sizeText(bytes))
	}
	if notSized := waiting - sized; notSized > 0 {
		fmt.Fprintf(w, " (first %d sized, %d more not sized)", sized, notSized)
	} else if waiting > 0 {
		fmt.Fprintf(w, " (all %d sized)", sized)
	}
	if others > 0 {
		fmt.Fprintf(w, "; %s not matching include %q (subdirectories among them)", plural(others, "other name"), cfg.Include)
	}
	fmt.Fprintln(w)
	if len(take) < len(names) {
		fmt.Fprintf(w, "  a gather takes the first %d (max_files_per_gather); the rest wait for the next\n", len(take))
	}
	if room.known && uint64(bytes) > room.bytes {
		fmt.Fprintf(w, "  spool: only %s fit before min_free_space; a gather leaves the rest on the server (files_deferred)\n", sizeText(int64(min(room.bytes, 1<<62))))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "  skipped, left on the server: %d: %s\n", len(skipped), someOf(skipped, "; "))
	}
	if connErr != nil {
		fmt.Fprintf(w, "  sizing failed (%s): %v\n", classify(connErr).name, connErr)
		return false
	}
	return true
}

// checkConfig reports what the configuration sync would push, pull and
// remove, computed as a gather computes it (see configSync.run), and does
// none of it. It returns false when the sync could not be planned.
func checkConfig(cs *configSync, w io.Writer) bool {
	v, err := cs.scanCentral()
	if err != nil {
		fmt.Fprintf(w, "  configuration: reading the central configuration failed: %v\n", err)
		return false
	}
	known, err := state.Load(cs.cfg.StateDir, cs.tgt.addr)
	if err != nil {
		fmt.Fprintf(w, "  configuration state: %v; a gather compares with the server's files instead\n", err)
	}
	v.known = known.Files
	if v.remote, err = cs.listRemote(v); err != nil {
		fmt.Fprintf(w, "  configuration: %v\n", err)
		return false
	}
	if v.remoteSums, err = cs.readRemoteSums(toCompare(v)); err != nil {
		fmt.Fprintf(w, "  configuration: %v\n", err)
		return false
	}
	plan := planConfig(v)
	// A file is removed only while it holds what was pushed (removeFile).
	var remove, keep []cfgFile
	for _, f := range plan.remove {
		sum, err := cs.remoteSum(f)
		var refused *tentacle.RemoteError
		switch {
		case errors.As(err, &refused):
		case err != nil:
			fmt.Fprintf(w, "  configuration: reading %s back: %v\n", f, err)
			return false
		case sum == known.Files[f.String()].SHA256:
			remove = append(remove, f)
		default:
			keep = append(keep, f)
		}
	}
	var empty []cfgFile
	for f, c := range v.central {
		if c.size == 0 {
			empty = append(empty, f)
		}
	}
	inStep := len(v.central) - len(empty) - len(plan.send)
	fmt.Fprintf(w, "  configuration: %d to push%s, %d to pull%s, %d to remove%s; %d in step\n",
		len(plan.send), fileList(plan.send), len(plan.pull), fileList(plan.pull), len(remove), fileList(remove), inStep)
	if len(keep) > 0 {
		fmt.Fprintf(w, "  configuration: %d deleted centrally but changed on the server since pushed, left there%s\n", len(keep), fileList(keep))
	}
	if len(empty) > 0 {
		fmt.Fprintf(w, "  configuration: %d empty central files not pushed (being written?)%s\n", len(empty), fileList(md5First(empty)))
	}
	return true
}

func fileList(files []cfgFile) string {
	if len(files) == 0 {
		return ""
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.String()
	}
	return " (" + someOf(names, ", ") + ")"
}

// someOf joins the first few items and says how many more there are.
func someOf(items []string, sep string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:maxNamed], sep) + sep + "and " + strconv.Itoa(len(items)-maxNamed) + " more"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// sizeText is n bytes for a reader: "812 bytes", "48.0 KiB".
func sizeText(n int64) string {
	if n < 1024 {
		return plural(int(n), "byte")
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}
