package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// uploadPrefix starts the name of an upload in progress. No listing shows
// such a name and no command accepts one.
const uploadPrefix = ".tentacle-upload-"

// perlBuffer is the size of the writes Perl's buffered I/O makes, which is
// why the reference server's partial uploads are multiples of 8 KiB.
const perlBuffer = 8192

// upload is a SEND or ZSEND the server has agreed to.
type upload struct {
	verb, name, path string
	size             int64
}

// receive handles SEND and ZSEND.
func (s *session) receive(verb, name string, size int64) error {
	cfg := s.srv.cfg
	u := upload{verb: verb, name: name, path: s.srv.route(name), size: size}
	switch {
	case !validName(name) || name == "." || name == "..":
		return s.write(verb + " ERR (invalid file name)\n")
	case size < 1 || size > cfg.MaxSize:
		return s.write(verb + " ERR (file is too big)\n")
	case !cfg.Overwrite && exists(u.path):
		return s.write(verb + " ERR (file already exists)\n")
	}
	if cfg.VisibleUploads {
		return s.receiveVisibly(u)
	}
	return s.receiveHidden(u)
}

// receiveHidden writes the upload to a temporary name beside its final one
// and gives it that name only once it is whole and synced.
func (s *session) receiveHidden(u upload) error {
	tmp, err := createTemp(filepath.Dir(u.path))
	if err != nil {
		s.log.Warn("cannot create file", "file", u.path, "err", err)
		return s.write(u.verb + " ERR (cannot write file)\n")
	}
	// Called before any answer, so that no client sees the temporary name
	// after it; a published upload has left that name already.
	discard := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if err := s.write(u.verb + " OK\n"); err != nil {
		discard()
		return err
	}
	answer, err := s.store(tmp, u)
	discard()
	if err != nil {
		return err
	}
	return s.write(u.verb + " " + answer + "\n")
}

// store fills tmp with the body and publishes it. It returns the answer to
// give, or an error that ends the session.
func (s *session) store(tmp *os.File, u upload) (answer string, err error) {
	if err := s.fill(tmp, u); errors.Is(err, errBadArchive) {
		s.log.Info("bad archive", "file", u.name, "err", err)
		return "ERR", nil
	} else if err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := s.publish(tmp.Name(), u.path); errors.Is(err, fs.ErrExist) {
		return "ERR (file already exists)", nil
	} else if err != nil {
		s.log.Warn("cannot name file", "file", u.path, "err", err)
		return "ERR (cannot write file)", nil
	}
	s.log.Debug("received file", "file", u.name, "size", u.size)
	return "OK", nil
}

// createTemp opens a new, empty file under a random hidden name in dir,
// with the permissions os.Create would give.
func createTemp(dir string) (*os.File, error) {
	name := filepath.Join(dir, uploadPrefix+rand.Text())
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
}

// fill copies a SEND body into f as it arrives; a ZSEND archive is read
// whole first, since a zip's directory is at its end.
func (s *session) fill(f *os.File, u upload) error {
	if u.verb == "SEND" {
		_, err := io.CopyN(f, s.bodyReader(), u.size)
		return err
	}
	data, err := s.readBody(u)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// publish gives a finished upload its final name. Without Overwrite it
// links instead of renaming, since a link never replaces: of two uploads
// of one name that both passed the existence check, the second learns it
// was not stored.
func (s *session) publish(tmp, path string) error {
	if s.srv.cfg.Overwrite {
		return os.Rename(tmp, path)
	}
	return os.Link(tmp, path)
}

// receiveVisibly stores an upload the reference server's way: the whole
// body in memory, then the final name created and written in 8 KiB writes,
// visible and growing until the last one.
func (s *session) receiveVisibly(u upload) error {
	if err := s.write(u.verb + " OK\n"); err != nil {
		return err
	}
	data, err := s.readBody(u)
	if errors.Is(err, errBadArchive) {
		s.log.Info("bad archive", "file", u.name, "err", err)
		return s.write(u.verb + " ERR\n")
	}
	if err != nil {
		return err
	}
	if err := s.writeVisibly(u.path, data); err != nil {
		// The reference server dies here without a second answer.
		return fmt.Errorf("%w: %w", errClose, err)
	}
	s.log.Debug("received file", "file", u.name, "size", u.size)
	return s.write(u.verb + " OK\n")
}

// readBody reads the whole body into memory, unzipped for ZSEND.
func (s *session) readBody(u upload) ([]byte, error) {
	body := make([]byte, u.size)
	if _, err := io.ReadFull(s.bodyReader(), body); err != nil {
		return nil, err
	}
	if u.verb == "ZSEND" {
		return unzipFirst(body)
	}
	return body, nil
}

func (s *session) bodyReader() io.Reader { return &deadlineReader{s: s, r: s.conn} }

func (s *session) writeVisibly(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for written := 0; written < len(data); {
		if pause := s.srv.cfg.UploadPause; pause != nil {
			pause(path, int64(written))
		}
		n, err := f.Write(data[written:min(written+perlBuffer, len(data))])
		if err != nil {
			return err
		}
		written += n
	}
	return f.Close()
}
