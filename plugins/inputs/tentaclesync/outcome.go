package tentaclesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// This file decides what became of each file: received, left on the
// server, kept aside as not whole, or lost. "Lost" is said only of a file
// that is gone from the server and not in the spool.

var errTooBig = errors.New("file too big")

// beforeCommit lets tests hold a commit up, as a slow disk would.
var beforeCommit = func(string) {}

// settle counts a failed MV (or the RECV of a copy) and tells whether the
// connection is still good. It disposes of out, the file's spool writer.
func (s *serverSync) settle(name string, err error, out *spoolWriter) error {
	var (
		declined *tentacle.DeclinedError
		refused  *tentacle.RemoteError
		transfer *tentacle.TransferError
		overrun  *tentacle.OverrunError
		local    *localError
	)
	errors.As(err, &overrun)
	errors.As(err, &transfer)
	if !keepsBytes(overrun, transfer) {
		out.abort()
	}
	switch {
	case errors.As(err, &local):
		s.count(&s.failed, 0)
		s.stopLocal(fmt.Errorf("cannot write %q to the spool (left on the server): %w", name, local.err))
	case errors.Is(err, errNoRoom):
		s.count(&s.deferred, 0)
		s.log.Debugf("%s: %q left on the server: no room in the spool", s.tgt.addr, name)
	case errors.Is(err, errStopping), errors.Is(err, errSlowCommit):
		// Declined: it stays on the server for the next gather.
	case errors.Is(err, tentacle.ErrEmpty):
		s.count(&s.skipped, 0)
		s.log.Debugf("%s: %q is empty, still being uploaded; left on the server", s.tgt.addr, name)
	case errors.As(err, &declined) && errors.Is(err, errTooBig):
		s.count(&s.skipped, 0)
		s.log.Warnf("%s: %q has %d bytes, above max_file_size (%d); left on the server",
			s.tgt.addr, name, declined.Size, int64(s.cfg.MaxFileSize))
	case errors.As(err, &refused):
		// A directory, or a file someone else took since the listing:
		// either way not a file waiting there.
		s.mu.Lock()
		s.matched--
		s.mu.Unlock()
		s.log.Debugf("%s: %v", s.tgt.addr, refused)
	case overrun != nil && overrun.Cmd == "MV" && overrun.Err != nil:
		// Cut with a reset while the server was still sending: it may
		// well keep the file.
		s.count(&s.failed, 0)
		s.addDoubt(doubt{name: name, got: overrun.Size + overrun.Extra, size: overrun.Size, err: overrun, out: out})
	case overrun != nil && overrun.Cmd == "MV":
		s.keepAside(name, out, fmt.Sprintf("grew while it was moved (the server announced %d bytes and sent %d more): it was still being written",
			overrun.Size, overrun.Extra))
	case overrun != nil:
		// A copy (verified mode) of a file still being written: the
		// server has it, and the next gather copies it again.
		s.count(&s.skipped, 0)
		s.log.Warnf("%s: %q grew while it was copied (the server announced %d bytes and sent %d more): still being written; left on the server",
			s.tgt.addr, name, overrun.Size, overrun.Extra)
	case transfer != nil && transfer.Local:
		s.count(&s.failed, 0)
		s.stopLocal(fmt.Errorf("cannot write %q to the spool; the connection was cut at once so that the server keeps it: %w", name, transfer.Err))
		s.doubt(name, transfer, nil)
	case transfer != nil:
		s.count(&s.failed, 0)
		s.doubt(name, transfer, out)
		if endedBeforeAByte(transfer) {
			// Most likely the file vanished (see doubt); the next file
			// gets a fresh connection.
			return nil
		}
		return err
	default:
		return err
	}
	return nil
}

// keepsBytes tells the failures after which the bytes received are kept,
// at least until it is known whether the server still has the file: a
// moved file may be gone from it. A local failure means the disk cannot
// keep them.
func keepsBytes(overrun *tentacle.OverrunError, transfer *tentacle.TransferError) bool {
	return overrun != nil && overrun.Cmd == "MV" || transfer != nil && transfer.Cmd == "MV" && !transfer.Local
}

// commit makes a pulled file durable in the spool and reports whether it
// is. A file that is not whole is never given its name. Any failure of the
// spool stops the pull: a spool that cannot store one file will not store
// the next. In verified mode the server still has the file.
func (s *serverSync) commit(name string, out *spoolWriter, n int64) bool {
	beforeCommit(name)
	verified := s.cfg.Transfer == transferVerified
	if !out.whole(name) {
		if verified {
			out.abort()
			s.count(&s.skipped, 0)
			s.log.Warnf("%s: the copy of %q does not end with %s: the upload is not complete yet; left on the server", s.tgt.addr, name, agentDataEnd)
			return false
		}
		s.keepAside(name, out, "does not end with "+agentDataEnd+": its upload was not complete when it was moved")
		return false
	}
	final, err := out.f.Commit()
	out.release()
	still := ""
	if verified {
		still = "; it is still on the server"
	}
	switch {
	case err != nil && final != "":
		s.count(&s.received, n)
		s.stopLocal(fmt.Errorf("%q is in the spool as %q but may not be durable%s: %w", name, final, still, err))
		return false
	case err != nil && verified:
		s.count(&s.failed, 0)
		s.stopLocal(fmt.Errorf("cannot store %q in the spool%s: %w", name, still, err))
		return false
	case err != nil:
		// Gone from the server, not in the spool under its name: for the
		// counts it is gone, though its bytes may be kept (the error says).
		s.countGone()
		s.stopLocal(fmt.Errorf("the server has deleted %q but it is not in the spool: %w", name, err))
		return false
	}
	s.count(&s.received, n)
	if final != name {
		s.log.Infof("%s: %q arrived while an unprocessed file of that name waits in the spool; stored as %q", s.tgt.addr, name, final)
	}
	return true
}

// keepAside stores the bytes of a moved file that is not whole under a name
// the Data Server ignores: the server has deleted the file, so they may be
// all that is left of it.
func (s *serverSync) keepAside(name string, out *spoolWriter, why string) {
	s.countGone()
	kept, err := out.f.CommitIncomplete()
	out.release()
	if err != nil && kept == "" {
		s.stopLocal(fmt.Errorf("%q %s; the server has deleted it, and keeping its %d bytes aside failed: %w", name, why, out.n, err))
		return
	}
	s.log.Errorf("%s: %q %s; the server has deleted it; the %d bytes received are kept in %s for inspection, not given to the Data Server",
		s.tgt.addr, name, why, out.n, filepath.Join(s.spool.Dir(), kept))
}

// A doubt is a file whose transfer broke: the server may still have it, or
// may have sent it whole into the network and deleted it.
type doubt struct {
	name string
	got  int64
	size int64
	err  error
	// out holds the bytes received, unpublished, until it is known
	// whether they are all there is; nil when none could be kept.
	out *spoolWriter
	// closed: the server ended the connection itself before sending a
	// byte, which it does when the file vanished between its size and its
	// send: another client took it.
	closed bool
}

func (s *serverSync) doubt(name string, te *tentacle.TransferError, out *spoolWriter) {
	if te.Cmd != "MV" {
		return // a copy: the server keeps the file
	}
	s.addDoubt(doubt{name: name, got: te.Got, size: te.Size, err: te.Err, out: out, closed: endedBeforeAByte(te)})
}

func (s *serverSync) addDoubt(d doubt) {
	s.mu.Lock()
	s.doubts = append(s.doubts, d)
	s.mu.Unlock()
}

// endedBeforeAByte tells a server that hung up after announcing a file and
// before sending any of it: the reference server does so when the file
// vanished between its size and its send.
func endedBeforeAByte(te *tentacle.TransferError) bool {
	return te.Cmd == "MV" && te.Got == 0 && !te.Local && errors.Is(te.Err, io.ErrUnexpectedEOF)
}

// checkDoubts lists the server once more, on a new connection, to tell the
// files whose transfer broke that are still there from those that are lost.
// The bytes of a lost file, or of one whose fate is unknown, are kept aside.
func (s *serverSync) checkDoubts() {
	if len(s.doubts) == 0 {
		return
	}
	present, err := s.listAgain()
	for _, d := range s.doubts {
		what := fmt.Sprintf("the transfer of %q broke after %d of %d bytes (%v)", d.name, d.got, d.size, d.err)
		switch {
		case err == nil && present[d.name]:
			d.out.abort()
			s.log.Warnf("%s: %s; the file is still on the server and comes at the next gather", s.tgt.addr, what)
		case err == nil && d.closed:
			d.out.abort()
			s.mu.Lock()
			s.matched--
			s.failed--
			s.mu.Unlock()
			s.log.Infof("%s: %q vanished from the server between its size and its send: another client took it", s.tgt.addr, d.name)
		case err == nil:
			s.mu.Lock()
			s.gone++
			s.mu.Unlock()
			s.log.Errorf("%s: %q is lost: %s, and the server has deleted it%s", s.tgt.addr, d.name, what, s.keepDoubtful(d))
		default:
			s.log.Errorf("%s: %s, and whether the server still has it could not be checked: %v; if it has, it comes at the next gather%s",
				s.tgt.addr, what, err, s.keepDoubtful(d))
		}
	}
}

// keepDoubtful keeps the bytes of a doubtful file aside and says where, for
// the end of a log line.
func (s *serverSync) keepDoubtful(d doubt) string {
	if d.out == nil || d.out.n == 0 {
		d.out.abort()
		return "; none of its bytes are kept"
	}
	kept, err := d.out.f.CommitIncomplete()
	d.out.release()
	if err != nil && kept == "" {
		return fmt.Sprintf("; keeping its %d bytes aside failed: %v", d.out.n, err)
	}
	return fmt.Sprintf("; the %d bytes received are kept in %s", d.out.n, filepath.Join(s.spool.Dir(), kept))
}

// listAgain returns the names on the server now. It runs even after Stop
// has cut a transfer, for at most a second then: it only reads, and the
// gather's metric must still be written before Telegraf's kill.
func (s *serverSync) listAgain() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.Timeout))
	if s.ctx.Err() != nil {
		ctx, cancel = context.WithTimeout(context.Background(), min(time.Second, time.Duration(s.cfg.Timeout)))
	}
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Quit()
	names, err := c.List(ctx, "")
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(names))
	for _, name := range names {
		present[name] = true
	}
	return present, nil
}

// localError marks a failure on our side of the transfer.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// agentDataEnd closes every Pandora agent data file.
const agentDataEnd = "</agent_data>"

// tailLen is how much of a file's end is kept to judge whether it is whole.
const tailLen = 256

// spoolWriter is a file on its way into the spool. It keeps the end of
// what was written, to tell a whole agent data file from one cut short.
type spoolWriter struct {
	f     *spool.File
	n     int64
	err   error // the first write failure
	tail  []byte
	claim func() // gives back the file's claim on the spool's room
}

// release gives the claim back, once.
func (w *spoolWriter) release() {
	if w.claim != nil {
		w.claim()
		w.claim = nil
	}
}

// abort drops the unfinished file, if any.
func (w *spoolWriter) abort() {
	if w != nil {
		w.f.Abort()
		w.release()
	}
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.n += int64(n)
	w.tail = append(w.tail, p[max(0, n-tailLen):n]...)
	if len(w.tail) > tailLen {
		w.tail = append(w.tail[:0], w.tail[len(w.tail)-tailLen:]...)
	}
	return n, err
}

// whole reports whether the bytes can be the whole file of that name. Agent
// data files are Pandora XML: one cut short lacks its closing element. Of
// other files nothing is known.
func (w *spoolWriter) whole(name string) bool {
	if !strings.HasSuffix(name, ".data") {
		return true
	}
	return bytes.HasSuffix(bytes.TrimRight(w.tail, " \t\r\n"), []byte(agentDataEnd))
}
