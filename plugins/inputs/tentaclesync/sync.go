package tentaclesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// maxStopGrace bounds the time a file in flight gets after Stop. Telegraf
// ends an execd input by closing its stdin, then 5 s later sends SIGTERM,
// and 5 s after that SIGKILL: a process that is sent SIGTERM directly has
// 5 s in all, and must write the gather's metric before then.
const maxStopGrace = 4 * time.Second

func stopGrace(timeout config.Duration) time.Duration {
	return min(time.Duration(timeout), maxStopGrace)
}

// cutAfterGrace ends xfer grace after stop ends; it returns when xfer ends.
func cutAfterGrace(stop, xfer context.Context, cancel context.CancelFunc, grace time.Duration) {
	select {
	case <-xfer.Done():
		return
	case <-stop.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-xfer.Done():
	case <-t.C:
		cancel()
	}
}

// serverSync is one gather's pull from one server.
type serverSync struct {
	cfg   *TentacleSync
	log   telegraf.Logger
	spool *spool.Spool
	tgt   *target
	// ctx ends when the plugin stops: no new connection or file after that.
	// xfer ends timeout later, so a file in flight gets the time of one
	// operation to finish before it is cut.
	ctx  context.Context
	xfer context.Context

	spoolFull *sync.Once // the min_free_space warning, once per gather

	// stop is set after a local failure: every further file moved would be
	// lost, so the workers finish the file in hand and take no more.
	stop atomic.Bool

	mu     sync.Mutex
	listed map[string]bool // every matching name listed in this gather
	tried  map[string]bool // every name asked for in this gather
	doubts []doubt         // broken transfers, checked at the end (see outcome.go)
	stats
}

type stats struct {
	matched  int64 // listed names that match include
	received int64
	bytes    int64
	skipped  int64 // left on the server on purpose
	deferred int64 // left on the server for want of room in the spool
	failed   int64
	gone     int64 // failed after the server had deleted its copy
	err      error // the first network or protocol failure
	localErr error // the spool failure that stopped pulling
}

// backlog is what is still on the server: everything that matched and was
// neither received nor gone.
func (s *stats) backlog() int64 {
	return s.matched - s.received - s.gone
}

func (t *TentacleSync) newSync(sp *spool.Spool, tgt *target, spoolFull *sync.Once) *serverSync {
	return &serverSync{cfg: t, log: t.Log, spool: sp, tgt: tgt, ctx: t.stopping, spoolFull: spoolFull, listed: map[string]bool{}, tried: map[string]bool{}}
}

// run lists the server and moves the files that have settled (see
// min_file_age) over up to `connections` connections. When files were
// still settling, it waits for them (up to maxSettleWait) and lists once
// more, so that a single run (-once) takes them too. Then it finds out what became of the files
// whose transfer broke, and returns what happened.
func (s *serverSync) run() stats {
	xfer, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cutAfterGrace(s.ctx, xfer, cancel, stopGrace(s.cfg.Timeout))
	s.xfer = xfer
	s.pullSettled()
	s.checkDoubts()
	return s.stats
}

func (s *serverSync) pullSettled() {
	c, err := s.connect()
	if err != nil {
		s.fail(err)
		return
	}
	names, wait, err := s.list(c)
	if err != nil {
		c.Close()
		s.fail(hintFirstCommand(err))
		return
	}
	s.pull(c, names)
	if wait <= 0 || wait > maxSettleWait || s.err != nil || s.stop.Load() || !sleep(s.ctx, wait) {
		return
	}
	if c, err = s.dial(s.ctx); err == nil {
		if names, _, err = s.list(c); err != nil {
			c.Close()
		}
	}
	if err != nil {
		s.fail(fmt.Errorf("listing again for the files that were settling: %w", err))
		return
	}
	s.pull(c, names)
}

// list lists the server and returns the names to move now, and how long
// until those still settling have settled.
func (s *serverSync) list(c *tentacle.Client) ([]string, time.Duration, error) {
	listing, err := c.List(s.ctx, "")
	if err != nil {
		return nil, 0, err
	}
	names := s.selectNames(listing)
	ready, wait := s.tgt.settled(names, time.Now(), time.Duration(s.cfg.MinFileAge))
	// A file asked for once in this gather has had its outcome counted.
	ready = slices.DeleteFunc(ready, func(name string) bool { return s.tried[name] })
	if limit := s.cfg.MaxFilesPerGather; limit > 0 {
		ready = ready[:min(len(ready), max(0, limit-len(s.tried)))]
	}
	for _, name := range ready {
		s.tried[name] = true
	}
	return ready, wait, nil
}

// pull moves names over c and as many more connections as help; it owns c.
func (s *serverSync) pull(c *tentacle.Client, names []string) {
	if len(names) == 0 {
		c.Quit()
		return
	}
	jobs := make(chan string, len(names))
	for _, name := range names {
		jobs <- name
	}
	close(jobs)

	var wg sync.WaitGroup
	wg.Go(func() { s.work(c, jobs) })
	for range min(s.cfg.Connections, len(names)) - 1 {
		wg.Go(func() {
			// One attempt: the first connection already works, and files
			// do not wait for this one.
			extra, err := s.dial(s.ctx)
			if err != nil {
				s.log.Warnf("%s: an extra connection failed; pulling over fewer: %v", s.tgt.addr, err)
				return
			}
			s.work(extra, jobs)
		})
	}
	wg.Wait()
}

// selectNames keeps the names worth a MV, in a stable order, and counts what
// matched; a name listed twice in one gather counts once.
func (s *serverSync) selectNames(listing []string) []string {
	slices.Sort(listing)
	listing = slices.Compact(listing)
	var names []string
	for _, name := range listing {
		if name == "." || name == ".." || !s.cfg.include.Match(name) {
			continue
		}
		first := !s.listed[name]
		s.listed[name] = true
		if err := safeName(name); err != nil {
			if first {
				s.matched++
				s.skipped++
				s.log.Warnf("%s: leaving %q on the server: %v", s.tgt.addr, name, err)
			}
			continue
		}
		if first {
			s.matched++
		}
		names = append(names, name)
	}
	return names
}

func safeName(name string) error {
	if err := tentacle.CheckName(name); err != nil {
		return err
	}
	return spool.CheckName(name)
}

// work moves files until the jobs run out, the connection breaks, or a local
// failure stops the sync. It owns c and whatever connection replaces it.
func (s *serverSync) work(c *tentacle.Client, jobs <-chan string) {
	var prev committing
	defer func() {
		prev.wait()
		if c != nil {
			c.Quit()
		}
	}()
	for name := range jobs {
		if s.stop.Load() || s.ctx.Err() != nil {
			return
		}
		claimed, err := s.claim(0)
		if err != nil {
			// Not even an empty file fits: no MV is worth its decline.
			s.settle(name, err, nil)
			continue
		}
		s.cfg.release(claimed)
		if c == nil {
			if c, err = s.dial(s.ctx); err != nil {
				s.fail(fmt.Errorf("reconnecting before %q: %w", name, err))
				return
			}
		}
		if c, err = s.pullOne(c, name, &prev); err != nil {
			s.fail(fmt.Errorf("pulling %q: %w", name, err))
			return
		}
	}
}

// pullOne brings one file in. It returns the connection for the next file,
// or nil when that one needs a fresh connection; on an error c is closed.
// prev is the commit of the connection's previous moved file (see
// committing).
func (s *serverSync) pullOne(c *tentacle.Client, name string, prev *committing) (*tentacle.Client, error) {
	if s.cfg.Transfer == transferVerified {
		return s.pullVerified(c, name)
	}
	return s.attempt(c, name, func(c *tentacle.Client, name string) (bool, error) {
		return s.move(c, name, prev)
	})
}

// step is one command's part in bringing a file in. It reports whether the
// server kept the file because we declined it, and returns an error only
// when the connection can no longer be used for other files.
type step func(c *tentacle.Client, name string) (declined bool, err error)

// attempt runs step, and runs it once more on a fresh connection if the
// server hung up before the step moved a byte (most likely its idle close,
// about 4 s, while the previous file was being stored), or if the step
// declined the file to wait for a slow commit: nothing is at risk. It
// returns the connection as pullOne does.
func (s *serverSync) attempt(c *tentacle.Client, name string, step step) (*tentacle.Client, error) {
	declined, err := step(c, name)
	if (errors.Is(err, tentacle.ErrServerClosed) || errors.Is(err, errSlowCommit)) && !s.stop.Load() {
		s.log.Debugf("%s: asking for %q again on a fresh connection: %v", s.tgt.addr, name, err)
		c.Close()
		if c, err = s.dial(s.ctx); err != nil {
			return nil, fmt.Errorf("reconnecting: %w", err)
		}
		declined, err = step(c, name)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	if c.Err() != nil || declined && s.tgt.tls == nil {
		// A failure of this file's own (say it grew while it was sent)
		// left the connection out of step. And a decline gets no answer,
		// so the next command could reach the server in the same read and
		// be swallowed with it: over TLS each write is a record of its
		// own; over plain TCP only a new connection is certain (see
		// tentacle's declineLine).
		c.Close()
		return nil, nil
	}
	return c, nil
}

// move takes a file with MV, the server deleting it as it sends it. The
// file is made durable in the background while the connection asks for the
// next one, whose MV waits for it (prev; see committing).
func (s *serverSync) move(c *tentacle.Client, name string, prev *committing) (declined bool, err error) {
	var out *spoolWriter
	n, err := c.Move(s.xfer, name, func(size int64) (io.Writer, error) {
		// "MV OK" makes the server send this file and delete it: not
		// before the previous one is durable, and not if its commit
		// failed or the plugin is stopping.
		if !prev.waitFor(maxCommitOverlap) {
			// The server closes a connection idle for about 4 s; had it
			// closed while we held its answer, the file would look lost.
			prev.wait()
			return nil, errSlowCommit
		}
		if s.stop.Load() || s.ctx.Err() != nil {
			return nil, errStopping
		}
		w, err := s.open(name, size, s.spool.Create)
		if err != nil {
			return nil, err
		}
		out = w
		return w, nil
	})
	if err == nil {
		prev.start(func() { s.commit(name, out, n) })
		return false, nil
	}
	if errors.Is(err, errSlowCommit) && !s.stop.Load() {
		return true, errSlowCommit // attempt asks again on a fresh connection
	}
	var de *tentacle.DeclinedError
	return errors.As(err, &de), s.settle(name, err, out)
}

// open checks a file's announced size and starts its spool file with
// create (spool.Create for a move, spool.CreateCopy for a copy).
func (s *serverSync) open(name string, size int64, create func(string) (*spool.File, error)) (*spoolWriter, error) {
	if size > int64(s.cfg.MaxFileSize) {
		return nil, errTooBig
	}
	claimed, err := s.claim(size)
	if err != nil {
		return nil, err
	}
	return s.create(name, claimed, create)
}

// create starts a spool file that holds a claim of claimed bytes.
func (s *serverSync) create(name string, claimed int64, create func(string) (*spool.File, error)) (*spoolWriter, error) {
	f, err := create(name)
	if err != nil {
		s.cfg.release(claimed)
		return nil, &localError{err}
	}
	return &spoolWriter{f: f, claim: func() { s.cfg.release(claimed) }}, nil
}

// claim reserves room in the spool for a file of size bytes, or says, once
// per gather, why there is none. It returns the bytes claimed.
func (s *serverSync) claim(size int64) (int64, error) {
	claimed, avail, err := s.reserve(size)
	if errors.Is(err, errNoRoom) {
		s.spoolFull.Do(func() {
			s.log.Warnf("the spool has %d bytes free and min_free_space keeps %s: leaving files on the servers until there is room (files_deferred)",
				avail, s.cfg.MinFreeSpace)
		})
	}
	return claimed, err
}

// reserve is claim without a word; it returns the bytes claimed and free.
// A file takes whole filesystem blocks, and a block more for what the
// filesystem adds: claims counted in announced bytes let parallel
// transfers fill the spool past min_free_space, or fill it up.
func (s *serverSync) reserve(size int64) (claimed int64, avail uint64, err error) {
	room, err := s.spool.Space()
	if errors.Is(err, errors.ErrUnsupported) {
		return 0, math.MaxUint64, nil
	} else if err != nil {
		return 0, 0, &localError{err}
	}
	claimed = int64(min(room.Blocks(size), math.MaxInt64))
	return claimed, room.Avail, s.cfg.reserve(room.Avail, room.Total, claimed)
}

func (s *serverSync) count(field *int64, bytes int64) {
	s.mu.Lock()
	*field++
	s.bytes += bytes
	s.mu.Unlock()
}

// countGone counts a file that failed after the server had deleted it.
func (s *serverSync) countGone() {
	s.mu.Lock()
	s.failed++
	s.gone++
	s.mu.Unlock()
}

// fail records the failure that decides the result; later ones, on other
// connections to the same server, are logged.
func (s *serverSync) fail(err error) {
	if s.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		s.log.Infof("%s: stopped before the sync ended: %v", s.tgt.addr, err)
		return
	}
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
	}
	s.mu.Unlock()
	if !first {
		s.log.Errorf("%s: %v", s.tgt.addr, err)
	}
}

func (s *serverSync) stopLocal(err error) {
	s.mu.Lock()
	if s.localErr == nil {
		s.localErr = err
	}
	s.mu.Unlock()
	s.stop.Store(true)
}

// connect dials and authenticates, retrying connection failures and
// timeouts. The whole attempt costs at most timeout × (retries + 1).
func (s *serverSync) connect() (*tentacle.Client, error) {
	timeout := time.Duration(s.cfg.Timeout)
	ctx, cancel := context.WithTimeout(s.ctx, timeout*time.Duration(s.cfg.Retries+1))
	defer cancel()
	var err error
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		var c *tentacle.Client
		if c, err = s.dial(ctx); err == nil {
			return c, nil
		}
		if !classify(err).retry {
			return nil, err
		}
		s.log.Debugf("%s: connection attempt %d failed: %v", s.tgt.addr, attempt+1, err)
		if attempt < s.cfg.Retries && !sleep(ctx, min(time.Second, timeout)) {
			break
		}
	}
	return nil, err
}

func (s *serverSync) dial(ctx context.Context) (*tentacle.Client, error) {
	opts := tentacle.Options{TLSConfig: s.tgt.tls, Timeout: time.Duration(s.cfg.Timeout)}
	c, err := tentacle.Dial(ctx, s.tgt.addr, opts)
	if err != nil {
		return nil, err
	}
	if s.cfg.Password.Empty() {
		return c, nil
	}
	password, err := s.cfg.Password.Get()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("password: %w", err)
	}
	defer password.Destroy()
	if err := c.Auth(ctx, password.String()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hintFirstCommand explains a silent close at the first command: the
// reference server does that for each of three server-side settings.
func hintFirstCommand(err error) error {
	if errors.Is(err, tentacle.ErrServerClosed) {
		return fmt.Errorf("%w; check that the server runs with -I, and whether it wants TLS or a password (-x)", err)
	}
	return err
}
