package tentaclesync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/tentaclesync/tentaclesync/internal/state"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// errNotNow is a file that changed under the sync; the next gather takes it.
var errNotNow = errors.New("changed since the scan")

// errEmptyPayload is a central payload that holds back its md5 file by being
// empty: a Tentacle server stores no empty file, so the payload cannot be
// pushed, and the md5 file would send agents after a payload the server
// does not have. It lasts until the console writes content, so it is
// reported on every gather, unlike errNotNow.
var errEmptyPayload = errors.New("is empty")

// defaultServerMaxSize is the reference server's -m default, named in the
// error for a file the server finds too big.
const defaultServerMaxSize = 2000000

// configStats is what the configuration sync of one server did.
type configStats struct {
	sent, bytesSent, received, removed, failed int64
	// connErr is the network or protocol failure that ended the sync.
	connErr error
	// errs are the failures of single files and of local steps.
	errs []error
}

func (cs *configStats) fields() map[string]any {
	return map[string]any{
		"config_files_sent":     cs.sent,
		"config_bytes_sent":     cs.bytesSent,
		"config_files_received": cs.received,
		"config_files_removed":  cs.removed,
		"config_files_failed":   cs.failed,
	}
}

// configSync carries one server's remote configuration in step with the
// central spool over its own connection.
type configSync struct {
	*serverSync
	c       *tentacle.Client
	state   *state.Server
	changed bool // the state differs from its file
	subdirs map[string]*spool.Spool
	configStats
}

// syncConfig pushes, pulls and removes configuration files; see
// configPlan for what and in which order.
func (s *serverSync) syncConfig() configStats {
	cs := &configSync{serverSync: s, subdirs: map[string]*spool.Spool{}}
	if s.ctx.Err() != nil {
		return cs.configStats // stopping: no new connection
	}
	defer cs.close()
	err := cs.run()
	if s.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// A SEND cut short leaves a short file on the server, but its md5
		// file was not sent, so no agent reads it; the next gather sends
		// it again.
		s.log.Infof("%s: stopped before the configuration sync ended: %v", s.tgt.addr, err)
		return cs.configStats
	}
	cs.connErr = err
	return cs.configStats
}

func (cs *configSync) run() error {
	v, err := cs.scanCentral()
	if err != nil {
		cs.report(fmt.Errorf("reading the central configuration, nothing done: %w", err))
		return nil
	}
	cs.state, err = state.Load(cs.cfg.StateDir, cs.tgt.addr)
	if err != nil {
		cs.changed = true
		// Starting afresh is safe: files are compared, not re-sent
		// blindly, and nothing unknown is ever removed.
		cs.log.Warnf("%s: state_dir: %v; comparing with the server's files instead", cs.tgt.addr, err)
	}
	v.known = cs.state.Files
	if v.remote, err = cs.listRemote(v); err != nil {
		return err
	}
	if v.remoteSums, err = cs.readRemoteSums(toCompare(v)); err != nil {
		return err
	}
	plan := planConfig(v)
	for f, c := range plan.adopt {
		cs.record(f, c, false)
	}
	for _, f := range plan.forget {
		cs.forget(f)
	}
	defer cs.save()
	if err := cs.pullAll(plan.pull); err != nil {
		return err
	}
	if err := cs.sendAll(plan.send); err != nil {
		return err
	}
	return cs.removeAll(plan.remove)
}

func (cs *configSync) close() {
	if cs.c != nil {
		cs.c.Quit()
	}
	for _, sub := range cs.subdirs {
		sub.Close()
	}
}

func (cs *configSync) save() {
	if !cs.changed {
		return
	}
	if err := cs.state.Save(cs.cfg.StateDir); err != nil {
		cs.report(fmt.Errorf("state_dir: saving the state failed; the next gather compares with the server's files instead: %w", err))
	}
}

// scanCentral reads the SHA-256 of every central configuration file.
func (cs *configSync) scanCentral() (configView, error) {
	v := configView{central: map[cfgFile]content{}, centralDirs: map[string]bool{}}
	for _, k := range configKinds {
		sub, err := cs.subdir(k.dir, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return v, err
		}
		v.centralDirs[k.dir] = true
		names, err := sub.Files(k.suffix)
		if err != nil {
			return v, err
		}
		for _, name := range names {
			f := cfgFile{dir: k.dir, name: name}
			if err := nameRefusal(f); err != nil {
				cs.fileFailed(err)
				continue
			}
			c, err := cs.centralContent(sub, f)
			if err != nil {
				return v, fmt.Errorf("%s: %w", f, err)
			}
			v.central[f] = c
		}
	}
	seen := make(map[string]bool, len(v.central))
	for f := range v.central {
		seen[f.String()] = true
	}
	cs.cfg.sums.keep(seen)
	return v, nil
}

// nameRefusal explains why a central file cannot be sent under its name, or
// returns nil when it can. Such a file is left out of the view, so nothing
// of it is sent; it is reported on every gather until it is renamed.
func nameRefusal(f cfgFile) error {
	err := tentacle.CheckName(f.name)
	if err == nil {
		return nil
	}
	i := strings.IndexAny(f.name, tentacle.ForbiddenChars)
	if i >= 0 && len(f.name) <= tentacle.MaxNameLen && !strings.ContainsAny(f.name, "\n\x00") {
		return fmt.Errorf("%s is not sent: rename it: Tentacle forbids '%c' in names", f, f.name[i])
	}
	// A newline or an overlong name: quoted, so that it cannot break a log line.
	return fmt.Errorf("%q is not sent: rename it: %w", f.String(), err)
}

// centralContent is the SHA-256 and size of a central file, from the cache
// while the file's stamp is unchanged.
func (cs *configSync) centralContent(sub *spool.Spool, f cfgFile) (content, error) {
	readAt := time.Now()
	info, err := sub.Stat(f.name)
	if err != nil {
		return content{}, err
	}
	if c, ok := cs.cfg.sums.get(f.String(), info); ok {
		return c, nil
	}
	c, err := hashFile(sub, f.name)
	if err == nil {
		cs.cfg.sums.put(f.String(), info, c, readAt)
	}
	return c, err
}

func hashFile(sub *spool.Spool, name string) (content, error) {
	file, err := sub.Open(name)
	if err != nil {
		return content{}, err
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, file)
	return content{sum: hex.EncodeToString(h.Sum(nil)), size: n}, err
}

// subdir opens a central spool subdirectory once per sync; create makes a
// missing one.
func (cs *configSync) subdir(dir string, create bool) (*spool.Spool, error) {
	if sub, ok := cs.subdirs[dir]; ok {
		return sub, nil
	}
	open := cs.spool.OpenSubdir
	if create {
		open = cs.spool.MakeSubdir
	}
	sub, err := open(dir)
	if err != nil {
		return nil, err
	}
	cs.subdirs[dir] = sub
	return sub, nil
}

// listRemote lists the server's configuration directories that can
// matter (see worthListing). A name with the kind's suffix is routed by the
// server's filters to that directory, so listing it lists the directory.
func (cs *configSync) listRemote(v configView) (map[cfgFile]bool, error) {
	remote := map[cfgFile]bool{}
	for _, k := range configKinds {
		if !v.worthListing(k, remote) {
			continue
		}
		var names []string
		err := cs.do(func(c *tentacle.Client) (err error) {
			names, err = c.List(cs.ctx, "tentaclesync"+k.suffix)
			return err
		})
		var refused *tentacle.RemoteError
		if errors.As(err, &refused) {
			// No such directory on the server: nothing of this kind there.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s/: %w", k.dir, err)
		}
		for _, name := range names {
			if len(name) > len(k.suffix) && strings.HasSuffix(name, k.suffix) && safeName(name) == nil {
				remote[cfgFile{dir: k.dir, name: name}] = true
			}
		}
	}
	return remote, nil
}

// readRemoteSums reads files back from the server to compare them.
func (cs *configSync) readRemoteSums(files []cfgFile) (map[cfgFile]string, error) {
	sums := map[cfgFile]string{}
	for _, f := range files {
		sum, err := cs.remoteSum(f)
		if err != nil && !perFile(err) {
			return nil, fmt.Errorf("reading %s back: %w", f, err)
		}
		if err == nil {
			sums[f] = sum
		}
	}
	return sums, nil
}

func (cs *configSync) remoteSum(f cfgFile) (string, error) {
	h := sha256.New()
	err := cs.do(func(c *tentacle.Client) error {
		h.Reset()
		_, err := c.Recv(cs.ctx, f.name, cs.acceptInto(h))
		return err
	})
	if errors.Is(err, tentacle.ErrEmpty) {
		err = nil // an empty file differs from every file we push
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

func (cs *configSync) acceptInto(h hash.Hash) tentacle.AcceptFunc {
	return func(size int64) (io.Writer, error) {
		if size > int64(cs.cfg.MaxFileSize) {
			return nil, errTooBig
		}
		return h, nil
	}
}

// pullAll copies files that agents uploaded and the central side lacks.
func (cs *configSync) pullAll(files []cfgFile) error {
	held := map[string]bool{}
	for _, f := range files {
		if f.isMD5() && held[f.base()] {
			cs.log.Debugf("%s: not pulling %s before its conf file", cs.tgt.addr, f)
			continue
		}
		err := cs.pullFile(f)
		if err == nil {
			continue
		}
		held[f.base()] = true
		if errors.Is(err, tentacle.ErrEmpty) {
			continue
		}
		if !perFile(err) {
			return fmt.Errorf("pulling %s: %w", f, err)
		}
		cs.fileFailed(fmt.Errorf("pulling %s: %w", f, err))
	}
	return nil
}

// pullFile copies one file with RECV, never MV: the agent keeps its copy.
// A central file of the same name that appeared meanwhile wins.
func (cs *configSync) pullFile(f cfgFile) error {
	sub, err := cs.subdir(f.dir, true)
	if err != nil {
		return &localError{err}
	}
	h := sha256.New()
	var out *spool.File
	var n int64
	err = cs.do(func(c *tentacle.Client) (err error) {
		h.Reset()
		n, err = c.Recv(cs.ctx, f.name, func(size int64) (io.Writer, error) {
			if size > int64(cs.cfg.MaxFileSize) {
				return nil, errTooBig
			}
			file, err := sub.CreateNew(f.name)
			if err != nil {
				return nil, &localError{err}
			}
			out = file
			return io.MultiWriter(localWriter{file}, h), nil
		})
		if err != nil && out != nil {
			out.Abort()
			out = nil
		}
		return err
	})
	if errors.Is(err, tentacle.ErrEmpty) {
		cs.log.Debugf("%s: %s is empty, still being uploaded; not pulled yet", cs.tgt.addr, f)
		return tentacle.ErrEmpty
	}
	if errors.Is(err, errTooBig) {
		return fmt.Errorf("%w: above max_file_size (%d bytes)", err, int64(cs.cfg.MaxFileSize))
	}
	if err != nil {
		return err
	}
	if _, err := out.Commit(); err != nil {
		if errors.Is(err, fs.ErrExist) {
			cs.log.Debugf("%s: %s appeared on the central side meanwhile; keeping that one", cs.tgt.addr, f)
			return nil
		}
		return &localError{err}
	}
	cs.received++
	cs.record(f, content{sum: hex.EncodeToString(h.Sum(nil)), size: n}, false)
	return nil
}

// sendAll pushes payloads, then md5 files. An md5 file whose payload did
// not go through, or is empty (see payloadsOnServer), is held back and
// reported, so that no agent is told of a version the server does not have.
func (cs *configSync) sendAll(files []cfgFile) error {
	held := map[string]error{}
	for _, f := range files {
		if why := held[f.base()]; f.isMD5() && why != nil {
			if errors.Is(why, errNotNow) {
				cs.log.Debugf("%s: %s waits for its payload, which %v", cs.tgt.addr, f, why)
			} else {
				cs.fileFailed(fmt.Errorf("%s held back: its payload was not sent", f))
			}
			continue
		}
		err := cs.sendFile(f)
		if err == nil {
			continue
		}
		held[f.base()] = err
		if errors.Is(err, errNotNow) {
			continue
		}
		if !perFile(err) && !errors.Is(err, errEmptyPayload) {
			return fmt.Errorf("sending %s: %w", f, err)
		}
		cs.fileFailed(err)
	}
	return nil
}

func (cs *configSync) sendFile(f cfgFile) error {
	sub, err := cs.subdir(f.dir, false)
	if err != nil {
		return &localError{fmt.Errorf("sending %s: %w", f, err)}
	}
	data, err := sub.ReadFile(f.name, int64(cs.cfg.MaxFileSize))
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(data) == 0 {
		// Deleted or emptied since the scan: the next gather sees that.
		return errNotNow
	}
	if err != nil {
		return &localError{fmt.Errorf("sending %s: %w", f, err)}
	}
	if f.isMD5() {
		// Checked after reading the md5 file: the console writes a payload
		// before its md5 file, so a payload seen now is at least as new.
		if err := cs.payloadsOnServer(f); err != nil {
			return err
		}
	}
	err = cs.do(func(c *tentacle.Client) error {
		return c.Send(cs.ctx, f.name, int64(len(data)), bytes.NewReader(data))
	})
	var refused *tentacle.RemoteError
	if errors.As(err, &refused) {
		return refusal(f, len(data), refused)
	}
	if err != nil {
		return err
	}
	cs.sent++
	cs.bytesSent += int64(len(data))
	cs.record(f, content{sum: state.Sum(data), size: int64(len(data))}, true)
	return nil
}

// payloadsOnServer tells whether every central payload that md5 file f
// announces (conf/H.conf, collections/H.zip, commands/H.rcmd) is on the
// server in its current version, as the state records what was sent or
// found in step. Otherwise an agent could read the new md5 file and fetch
// an old payload, and not fetch again until the next edit. Checked at send
// time, it also covers a console edit made during the scan.
func (cs *configSync) payloadsOnServer(f cfgFile) error {
	for _, k := range configKinds {
		if k.dir == "md5" {
			continue
		}
		payload := cfgFile{dir: k.dir, name: f.base() + k.suffix}
		sub, err := cs.subdir(k.dir, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &localError{fmt.Errorf("sending %s: %w", f, err)}
		}
		c, err := cs.centralContent(sub, payload)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &localError{fmt.Errorf("sending %s: reading %s: %w", f, payload, err)}
		}
		if c.size == 0 {
			return fmt.Errorf("%s %w: a Tentacle server stores no empty file, so %s is held back until it has content", payload, errEmptyPayload, f)
		}
		if entry, ok := cs.state.Files[payload.String()]; !ok || entry.SHA256 != c.sum {
			return fmt.Errorf("%w: %s is not on the server in its current version", errNotNow, payload)
		}
	}
	return nil
}

// refusal explains a SEND ERR in terms of the server's command line.
func refusal(f cfgFile, size int, refused *tentacle.RemoteError) error {
	switch refused.Reason {
	case "file is too big":
		return fmt.Errorf("sending %s of %d bytes: %w: it is above the server's -m limit (%d bytes unless the server sets -m); raise -m on that Tentacle server",
			f, size, refused, defaultServerMaxSize)
	case "file already exists":
		return fmt.Errorf("sending %s: %w: the server runs without -o (overwrite), so it cannot take a new version; start it with -o", f, refused)
	}
	return fmt.Errorf("sending %s: %w", f, refused)
}

// removeAll takes files that tentaclesync pushed and the central side has
// deleted off the server: md5 files first, so that no agent is pointed at a
// payload that is gone.
func (cs *configSync) removeAll(files []cfgFile) error {
	held := map[string]bool{}
	for _, f := range files {
		if !f.isMD5() && held[f.base()] {
			cs.fileFailed(fmt.Errorf("%s left on the server: removing its md5 file failed", f))
			continue
		}
		err := cs.removeFile(f)
		if err == nil {
			continue
		}
		held[f.base()] = true
		if !perFile(err) {
			return fmt.Errorf("removing %s: %w", f, err)
		}
		cs.fileFailed(fmt.Errorf("removing %s: %w", f, err))
	}
	return nil
}

// removeFile reads the file back first and takes it off (MV, bytes
// discarded) only while it still holds what tentaclesync pushed.
func (cs *configSync) removeFile(f cfgFile) error {
	sum, err := cs.remoteSum(f)
	var refused *tentacle.RemoteError
	if errors.As(err, &refused) {
		cs.log.Debugf("%s: %s is gone from the server already", cs.tgt.addr, f)
		cs.forget(f)
		return nil
	}
	if err != nil {
		return err
	}
	if entry := cs.state.Files[f.String()]; sum != entry.SHA256 {
		cs.log.Infof("%s: %s was deleted on the central side but changed on the server since it was pushed; leaving it there", cs.tgt.addr, f)
		cs.forget(f)
		return nil
	}
	err = cs.do(func(c *tentacle.Client) error {
		_, err := c.Move(cs.ctx, f.name, func(int64) (io.Writer, error) { return io.Discard, nil })
		return err
	})
	if err != nil {
		return err
	}
	cs.removed++
	cs.forget(f)
	cs.log.Infof("%s: removed %s from the server: deleted on the central side", cs.tgt.addr, f)
	return nil
}

func (cs *configSync) record(f cfgFile, c content, pushed bool) {
	old := cs.state.Files[f.String()]
	entry := state.Entry{SHA256: c.sum, Size: c.size, Pushed: pushed || old.Pushed}
	if entry != old {
		cs.state.Files[f.String()] = entry
		cs.changed = true
	}
}

func (cs *configSync) forget(f cfgFile) {
	delete(cs.state.Files, f.String())
	cs.changed = true
}

func (cs *configSync) fileFailed(err error) {
	cs.failed++
	cs.report(err)
}

// report records a failure that is not one file's.
func (cs *configSync) report(err error) {
	cs.errs = append(cs.errs, err)
}

// do runs one command, connecting first when needed. A server that hung up
// before answering (its idle close) gets one fresh connection. The
// connection is dropped after a failure that leaves it unusable, and after
// a decline over plain TCP (see pullOne).
func (cs *configSync) do(op func(*tentacle.Client) error) error {
	if cs.c == nil {
		c, err := cs.connect()
		if err != nil {
			return err
		}
		cs.c = c
	}
	err := op(cs.c)
	if errors.Is(err, tentacle.ErrServerClosed) {
		cs.c.Close()
		if cs.c, err = cs.dial(cs.ctx); err != nil {
			return fmt.Errorf("reconnecting: %w", err)
		}
		err = op(cs.c)
	}
	var declined *tentacle.DeclinedError
	if err != nil && (cs.c.Err() != nil || !perFile(err) || errors.As(err, &declined) && cs.tgt.tls == nil) {
		cs.c.Close()
		cs.c = nil
	}
	return err
}

// perFile tells a failure that concerns one file (a refusal, a decline, a
// local failure) from one that ends the connection.
func perFile(err error) bool {
	var (
		refused  *tentacle.RemoteError
		declined *tentacle.DeclinedError
		local    *localError
	)
	// A write that fails locally comes back inside a TransferError (the
	// client resets that connection): localWriter marks it.
	return errors.As(err, &refused) || errors.As(err, &declined) || errors.As(err, &local)
}

// localWriter marks its failures as local ones.
type localWriter struct{ w io.Writer }

func (w localWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = &localError{err}
	}
	return n, err
}
