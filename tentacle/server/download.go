package server

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// send handles RECV, ZRECV and MV: the size, the client's OK, the body, and
// for MV the delete, acknowledged or not. A body write that fails ends the
// session before the delete, so a client that resets keeps the file on the
// server, as with the reference server.
func (s *session) send(verb, name string) error {
	if !validName(name) {
		return s.write(verb + " ERR\n")
	}
	path := s.srv.route(name)
	// Stat before opening: opening a FIFO someone left in the spool would
	// block.
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return s.write(verb + " ERR\n")
	}
	switch {
	case verb == "ZRECV":
		return s.sendZipped(verb, path)
	case s.srv.cfg.StreamToEOF:
		return s.sendToEOF(verb, path, info.Size())
	default:
		return s.sendAnnounced(verb, path)
	}
}

// sendAnnounced sends exactly the size of the file it opened, whatever
// happens to the file meanwhile.
func (s *session) sendAnnounced(verb, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return s.write(verb + " ERR\n")
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return s.write(verb + " ERR\n")
	}
	sent, err := s.offer(verb, info.Size(), f)
	if err != nil || !sent {
		return err
	}
	if verb == "MV" {
		s.removeSent(path, f, info.Size())
	}
	return nil
}

// removeSent deletes a moved file unless it changed while it was sent: a
// file that grew, or another file renamed onto its name, holds bytes the
// client never got.
func (s *session) removeSent(path string, sent *os.File, size int64) {
	now, err := sent.Stat()
	if err != nil {
		s.log.Warn("kept a moved file", "file", path, "err", err)
		return
	}
	onDisk, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Debug("moved file already gone", "file", path)
	case err != nil:
		s.log.Warn("kept a moved file", "file", path, "err", err)
	case now.Size() != size || !os.SameFile(now, onDisk):
		s.log.Warn("kept a moved file that changed while it was sent", "file", path,
			"announced", size, "now", now.Size())
	default:
		s.remove(path)
	}
}

// sendToEOF is the reference server's RECV and MV: the size from stat, and
// after the client's OK the file as it is then, to its end.
func (s *session) sendToEOF(verb, path string, size int64) error {
	ok, err := s.accepted(verb, size)
	if err != nil || !ok {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		// The reference server dies here: another MV took the file.
		return fmt.Errorf("%w: %w", errClose, err)
	}
	defer f.Close()
	if _, err := s.writeBody(f); err != nil {
		return err
	}
	if verb == "MV" {
		s.remove(path)
	}
	return nil
}

func (s *session) remove(path string) {
	if err := os.Remove(path); err != nil {
		s.log.Warn("cannot delete moved file", "file", path, "err", err)
	}
}

// sendZipped answers ZRECV with an archive built before the size is
// announced, as the reference server does, so it is sent whole in any mode.
func (s *session) sendZipped(verb, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return s.write(verb + " ERR\n")
	}
	archive, err := zipOne(path, f)
	f.Close()
	if err != nil {
		s.log.Warn("cannot read file", "file", path, "err", err)
		return s.write(verb + " ERR\n")
	}
	_, err = s.offer(verb, int64(len(archive)), bytes.NewReader(archive))
	return err
}
