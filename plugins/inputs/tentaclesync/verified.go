package tentaclesync

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

const (
	transferMove     = "move"
	transferVerified = "verified"
)

// pullVerified copies a file (RECV), makes the copy durable, and only then
// moves it (MV), comparing the moved bytes with the copy. At every step the
// file is on the server, in the spool, or both: a broken connection during
// the MV costs nothing but a possible second copy at the next gather.
func (s *serverSync) pullVerified(c *tentacle.Client, name string) (declined bool, err error) {
	var out *spoolWriter
	copied := sha256.New()
	n, err := c.Recv(s.xfer, name, func(size int64) (io.Writer, error) {
		w, err := s.open(name, size)
		if err != nil {
			return nil, err
		}
		out = w
		return io.MultiWriter(w, copied), nil
	})
	if err != nil {
		out.abort()
		var de *tentacle.DeclinedError
		return errors.As(err, &de), s.settle(name, err, out)
	}
	if !s.commit(name, out, n) {
		return false, nil // still on the server; the spool error stops the sync
	}
	return false, s.moveAndCompare(c, name, copied.Sum(nil))
}

// moveAndCompare removes the file from the server with MV. The moved bytes
// are written aside while they are hashed: if they differ from the copy
// already in the spool (the file changed on the server in between), they
// are kept as a file of their own, since they may be the newer data.
func (s *serverSync) moveAndCompare(c *tentacle.Client, name string, want []byte) error {
	var moved *hashingWriter
	_, err := c.Move(s.xfer, name, func(size int64) (io.Writer, error) {
		moved = &hashingWriter{h: sha256.New()}
		// Never decline here: the server would keep a file the spool
		// already has, and the next gather would bring it twice.
		if w, err := s.open(name, max(size, 1)); err == nil {
			moved.out = w
		}
		return moved, nil
	})
	var refused *tentacle.RemoteError
	switch {
	case errors.As(err, &refused):
		// Gone since the RECV (another client took it): the spool has it.
		s.log.Debugf("%s: %s was gone by the MV: %v", s.tgt.addr, name, refused)
		return nil
	case err != nil:
		moved.abort()
		s.log.Warnf("%s: moving %s after copying it failed; the copy is in the spool, and the file may still be on the server, to be brought again: %v",
			s.tgt.addr, name, err)
		return err
	case bytes.Equal(moved.h.Sum(nil), want):
		moved.abort()
		return nil
	case moved.out == nil || moved.out.err != nil:
		moved.abort()
		s.log.Errorf("%s: %s changed on the server between the copy and the move, and the moved version could not be written to the spool; the copied version is kept",
			s.tgt.addr, name)
		return nil
	default:
		final, err := moved.out.f.Commit()
		moved.out.release()
		if err != nil {
			s.stopLocal(err)
		}
		s.log.Warnf("%s: %s changed on the server between the copy and the move; both versions are kept, the moved one as %s",
			s.tgt.addr, name, final)
		return nil
	}
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
