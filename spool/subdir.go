package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// dirMode is what a missing spool subdirectory (conf, md5, ...) is created
// with: the mode Pandora FMS gives them.
const dirMode = 0o755

// ErrTooBig reports a file above the limit given to ReadFile.
var ErrTooBig = errors.New("file too big")

// OpenSubdir opens an existing subdirectory of the spool, such as conf or
// md5, confined like the spool itself. A missing one gives an error that
// wraps fs.ErrNotExist.
func (s *Spool) OpenSubdir(name string) (*Spool, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	root, err := s.root.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(s.dir, name), err)
	}
	return newSpool(filepath.Join(s.dir, name), root)
}

// MakeSubdir opens a subdirectory of the spool, creating it first if
// needed.
func (s *Spool) MakeSubdir(name string) (*Spool, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := s.root.Mkdir(name, dirMode); err == nil {
		if err := s.syncDir(); err != nil {
			return nil, fmt.Errorf("sync %s after creating %s: %w", s.dir, name, err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(s.dir, name), err)
	}
	return s.OpenSubdir(name)
}

// Files names the regular files whose names end in suffix and pass
// CheckName, sorted. Symbolic links are not regular files here.
func (s *Spool) Files(suffix string) ([]string, error) {
	d, err := s.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), suffix) && CheckName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Open opens a regular file of the spool for reading, without following a
// symbolic link in its place.
func (s *Spool) Open(name string) (*os.File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", filepath.Join(s.dir, name))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads a regular file of the spool whole, refusing one above
// limit bytes with an error wrapping ErrTooBig.
func (s *Spool) ReadFile(name string, limit int64) ([]byte, error) {
	f, err := s.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(s.dir, name), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: above %d bytes", filepath.Join(s.dir, name), ErrTooBig, limit)
	}
	return data, nil
}

// CreateNew starts writing a copy that will be named name, like
// CreateCopy, but its Commit never gives it another name: when name has
// appeared in the meantime, Commit drops the new bytes and returns an error
// wrapping fs.ErrExist. That suits files where the one already there wins.
func (s *Spool) CreateNew(name string) (*File, error) {
	f, err := s.CreateCopy(name)
	if err != nil {
		return nil, err
	}
	f.exclusive = true
	return f, nil
}

func (f *File) publishExclusive() (string, error) {
	err := f.s.root.Link(f.tmp, f.name)
	if isLinkUnsupported(err) {
		renameMu.Lock()
		defer renameMu.Unlock()
		if _, err = f.s.root.Lstat(f.name); errors.Is(err, fs.ErrNotExist) {
			err = f.s.root.Rename(f.tmp, f.name)
		} else if err == nil {
			err = fs.ErrExist
		}
		if err == nil {
			return f.name, nil
		}
	}
	if errors.Is(err, fs.ErrExist) {
		_ = f.s.root.Remove(f.tmp)
		return "", &existsError{name: filepath.Join(f.s.dir, f.name)}
	}
	if err != nil {
		return "", fmt.Errorf("name %s in %s: %w", f.name, f.s.dir, err)
	}
	if err := f.s.root.Remove(f.tmp); err != nil {
		return f.name, fmt.Errorf("remove temporary file of %s: %w", f.name, err)
	}
	return f.name, nil
}

// existsError is the outcome of an exclusive Commit that found its name
// taken; its bytes are gone on purpose, so Commit must not say they are kept.
type existsError struct{ name string }

func (e *existsError) Error() string { return e.name + " appeared meanwhile; the new copy is dropped" }
func (e *existsError) Unwrap() error { return fs.ErrExist }

// Stat describes a file of the spool without following a symbolic link.
func (s *Spool) Stat(name string) (fs.FileInfo, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return s.root.Lstat(name)
}
