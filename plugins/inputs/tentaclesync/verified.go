package tentaclesync

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

const (
	transferMove     = "move"
	transferVerified = "verified"
)

var errChanged = errors.New("the file changed since it was copied")

// pullVerified copies a file (RECV), makes the copy durable, and only then
// moves it (MV), comparing the moved bytes with the copy. At every step the
// file is on the server, in the spool, or both. Each step is retried alone
// after an idle close, so a copy is never taken twice in one gather.
func (s *serverSync) pullVerified(c *tentacle.Client, name string) (*tentacle.Client, error) {
	var sum []byte
	var size int64
	c, err := s.attempt(c, name, func(c *tentacle.Client, name string) (bool, error) {
		var declined bool
		var err error
		sum, size, declined, err = s.copy(c, name)
		return declined, err
	})
	if err != nil || sum == nil {
		return c, err // the server keeps the file
	}
	if c == nil {
		if c, err = s.dial(s.ctx); err != nil {
			s.log.Warnf("%s: %s is copied into the spool but still on the server, to be brought again: %v", s.tgt.addr, name, err)
			return nil, err
		}
	}
	return s.attempt(c, name, func(c *tentacle.Client, name string) (bool, error) {
		return s.moveAndCompare(c, name, sum, size)
	})
}

// copy brings a file in with RECV. It returns the SHA-256 and size of the
// bytes only once they are durable in the spool.
func (s *serverSync) copy(c *tentacle.Client, name string) (sum []byte, size int64, declined bool, err error) {
	var out *spoolWriter
	h := sha256.New()
	n, err := c.Recv(s.xfer, name, func(size int64) (io.Writer, error) {
		w, err := s.open(name, size, s.spool.CreateCopy)
		if err != nil {
			return nil, err
		}
		out = w
		return io.MultiWriter(w, h), nil
	})
	if err != nil {
		var de *tentacle.DeclinedError
		return nil, 0, errors.As(err, &de), s.settle(name, err, out)
	}
	if !s.commit(name, out, n) {
		return nil, 0, false, nil // not whole, or the spool failed: not moved
	}
	return h.Sum(nil), n, false, nil
}

// moveAndCompare removes the copied file from the server with MV. A file of
// another size has changed since the copy: it is declined and stays on the
// server for the next gather. Otherwise the moved bytes are hashed, and
// written aside where there is room: if they differ from the copy, or the
// server sent more than it announced, they are kept as a file of their own,
// since they may be the newer data.
func (s *serverSync) moveAndCompare(c *tentacle.Client, name string, want []byte, size int64) (declined bool, err error) {
	var moved *hashingWriter
	_, err = c.Move(s.xfer, name, func(n int64) (io.Writer, error) {
		if n != size {
			return nil, errChanged
		}
		moved = &hashingWriter{h: sha256.New()}
		if claimed, _, err := s.reserve(n); err == nil {
			moved.out, _ = s.create(name, claimed, s.spool.Create)
		}
		return moved, nil
	})
	var (
		refused  *tentacle.RemoteError
		changed  *tentacle.DeclinedError
		transfer *tentacle.TransferError
		overrun  *tentacle.OverrunError
	)
	switch {
	case errors.As(err, &overrun):
		// The connection is out of step: attempt takes a fresh one.
		s.keepChanged(name, moved, true, fmt.Sprintf("grew after it was copied (the move brought %d bytes more than the %d copied)", overrun.Extra, size))
		return false, nil
	case errors.As(err, &changed):
		s.log.Infof("%s: %s changed on the server after it was copied (now %d bytes, was %d); the new version stays there for the next gather",
			s.tgt.addr, name, changed.Size, size)
		return true, nil
	case errors.As(err, &refused):
		// Gone since the copy (another client took it): the spool has it.
		s.log.Debugf("%s: %s was gone by the MV: %v", s.tgt.addr, name, refused)
		return false, nil
	case errors.As(err, &transfer):
		moved.abort()
		s.log.Warnf("%s: moving %s after copying it broke; the copy is in the spool, and the file may still be on the server, to be brought again: %v",
			s.tgt.addr, name, err)
		return false, err
	case err != nil: // nothing moved: ErrServerClosed is tried again
		return false, err
	case bytes.Equal(moved.h.Sum(nil), want):
		moved.abort()
		return false, nil
	}
	s.keepChanged(name, moved, false, "changed on the server between the copy and the move")
	return false, nil
}

// keepChanged stores the moved bytes of a file that changed between the
// copy and the move, when they could be written: as a data file of its own
// when it is whole, aside (see keepAside) when it is not or when the server
// sent more than it announced (aside).
func (s *serverSync) keepChanged(name string, moved *hashingWriter, aside bool, why string) {
	s.count(&s.failed, 0)
	if moved.out == nil || moved.out.err != nil {
		moved.abort()
		s.log.Errorf("%s: %q %s, and the moved version could not be written to the spool: that version is lost, the copied one is kept",
			s.tgt.addr, name, why)
		return
	}
	commit, where := moved.out.f.Commit, "as"
	if aside || !moved.out.whole(name) {
		commit, where = moved.out.f.CommitIncomplete, "not whole, aside in"
	}
	final, err := commit()
	moved.out.release()
	if err != nil {
		s.stopLocal(fmt.Errorf("%q %s; storing the moved version: %w", name, why, err))
		return
	}
	s.log.Warnf("%s: %q %s; both versions are kept: the copy as %q, the moved one %s %q",
		s.tgt.addr, name, why, name, where, final)
}

// hashingWriter hashes every byte and writes them to out while out works:
// the hash must see the whole body even when the disk does not.
type hashingWriter struct {
	h   hash.Hash
	out *spoolWriter
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	if w.out != nil && w.out.err == nil {
		_, _ = w.out.Write(p)
	}
	return len(p), nil
}

func (w *hashingWriter) abort() {
	if w != nil {
		w.out.abort()
	}
}
