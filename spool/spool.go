// Package spool writes files into a Pandora FMS spool directory (data_in) so
// that the Data Server only ever sees whole, durable files, and nothing is
// written outside the directory.
package spool

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// TempPrefix starts the name of every file still being written, and of the
// complete files that could not be given their name (see Commit). The Data
// Server takes only *.data, so it never reads either.
const TempPrefix = ".tentaclesync-"

const (
	tempSuffix = ".tmp"  // being written: a crash leaves it incomplete
	keptSuffix = ".kept" // complete, but nameless: never removed by Recover
)

const (
	maxNameLen = 255 // NAME_MAX on Linux
	fileMode   = 0o644
	// maxCopies bounds the search for a free name when files of the same
	// name pile up unprocessed.
	maxCopies = 1000
)

// ErrUnsafeName reports a name that is not a plain file name in the spool.
var ErrUnsafeName = errors.New("unsafe spool file name")

// Spool is an open spool directory.
type Spool struct {
	dir     string
	root    *os.Root
	dirFile *os.File // the directory itself, for its fsyncs
	dirSync *dirSyncer
}

// Open opens an existing spool directory.
func Open(dir string) (*Spool, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	// os.Root confines every later operation to dir: a name, a symlink
	// planted in the spool or a race cannot lead outside it.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return newSpool(dir, root)
}

// newSpool takes over root, the spool directory dir, and keeps the
// directory itself open for its fsyncs.
func newSpool(dir string, root *os.Root) (*Spool, error) {
	dirFile, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, err
	}
	return &Spool{dir: dir, root: root, dirFile: dirFile, dirSync: newDirSyncer(dirFile.Sync)}, nil
}

// Dir is the spool's path.
func (s *Spool) Dir() string { return s.dir }

// Close releases the directory.
func (s *Spool) Close() error { return errors.Join(s.dirFile.Close(), s.root.Close()) }

// CheckName accepts a plain file name that is not one of ours. Names are
// bytes: agents on other systems write Latin-1 names, and the Data Server
// takes them as they are; logs quote them.
func CheckName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrUnsafeName, name)
	case len(name) > maxNameLen-len(".1000"+IncompleteSuffix):
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrUnsafeName, name, maxNameLen-len(".1000"+IncompleteSuffix))
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%w: %q holds a path separator", ErrUnsafeName, name)
	case strings.ContainsAny(name, "\x00"):
		return fmt.Errorf("%w: %q holds a NUL byte", ErrUnsafeName, name)
	case strings.HasPrefix(name, TempPrefix):
		return fmt.Errorf("%w: %q uses the prefix of files being written", ErrUnsafeName, name)
	}
	return nil
}

// File is a spool file being written under a temporary name. Nothing of it
// is visible under its own name until Commit.
type File struct {
	s    *Spool
	f    *os.File
	tmp  string
	name string
	// exclusive files never get a copy name: Commit fails if name is taken.
	exclusive bool
	copy      bool // the source keeps the file: never keep nameless bytes

	written, flushed int64 // bytes written, and handed to writeback
}

// CreateCopy is Create for a file whose source keeps it (a copy, not a
// move): if Commit fails, its bytes are dropped rather than kept, since they
// are not the only copy and keeping them at every retry would fill the spool.
func (s *Spool) CreateCopy(name string) (*File, error) {
	f, err := s.Create(name)
	if err == nil {
		f.copy = true
	}
	return f, err
}

// writebackChunk is how much of a file may be written before the kernel is
// told to start writing it out. Without it a big file sits in the page cache
// until Commit's fsync writes all of it at once while the network waits;
// with it the disk works while the bytes arrive, and the fsync finds at most
// the last chunk still to write.
const writebackChunk = 8 << 20

// Create starts writing a file that will be named name.
func (s *Spool) Create(name string) (*File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	tmp := TempPrefix + rand.Text() + tempSuffix
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", s.dir, err)
	}
	return &File{s: s, f: f, tmp: tmp, name: name}, nil
}

func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.written += int64(n)
	if f.written-f.flushed >= writebackChunk {
		startWriteback(f.f, f.flushed, f.written-f.flushed)
		f.flushed = f.written
	}
	return n, err
}

// Commit makes the file durable and visible. It never replaces a file that
// is already there: an unprocessed file of the same name keeps its name and
// this one gets the first free "<base>.<n><ext>" (a.5.data, a.5.1.data, ...).
// It returns the name the file got; with an error, a non-empty name means the
// file is in place under that name but may not survive a power cut, and an
// empty one that the bytes are kept under a .kept name, which the error
// gives (after Commit they may be the only copy there is), or, for a file of
// CreateCopy, dropped.
func (f *File) Commit() (string, error) {
	if err := f.f.Sync(); err != nil {
		_ = f.f.Close()
		return "", f.kept(fmt.Errorf("sync: %w", err))
	}
	if err := f.f.Close(); err != nil {
		return "", f.kept(fmt.Errorf("close: %w", err))
	}
	final, err := f.publish()
	if exists := (*existsError)(nil); errors.As(err, &exists) {
		return "", err
	}
	if final == "" {
		return "", f.kept(err)
	}
	if serr := f.s.dirSync.sync(); serr != nil {
		err = errors.Join(err, fmt.Errorf("sync spool directory after %s: %w", final, serr))
	}
	return final, err
}

// kept moves complete bytes that could not be named out of the way of
// Recover, which removes every *.tmp at the next start. If even that rename
// fails the bytes stay under the temporary name, and the error says both.
func (f *File) kept(err error) error {
	if f.copy {
		_ = f.s.root.Remove(f.tmp)
		return fmt.Errorf("storing %s: %w; the copy is dropped", f.name, err)
	}
	kept := TempPrefix + rand.Text() + keptSuffix
	if rerr := f.s.root.Rename(f.tmp, kept); rerr != nil {
		return fmt.Errorf("storing %s: %w; its bytes are in %s, which the next start removes unless it is moved (renaming it failed: %v)",
			f.name, err, filepath.Join(f.s.dir, f.tmp), rerr)
	}
	return fmt.Errorf("storing %s: %w; its bytes are kept in %s", f.name, err, filepath.Join(f.s.dir, kept))
}

// IncompleteSuffix ends the name of a file kept aside because it is not
// whole (see CommitIncomplete). The Data Server takes only *.data, so it
// never reads one; an administrator may.
const IncompleteSuffix = ".incomplete"

// CommitIncomplete is Commit under the name plus IncompleteSuffix: for bytes
// that are not a whole file but may be the only copy of what there was.
func (f *File) CommitIncomplete() (string, error) {
	f.name += IncompleteSuffix
	return f.Commit()
}

// Abort drops an unfinished file.
func (f *File) Abort() {
	_ = f.f.Close()
	_ = f.s.root.Remove(f.tmp)
}

// publish gives the temporary file its final name without ever replacing a
// file: link fails on an existing name where rename would overwrite it.
func (f *File) publish() (string, error) {
	if f.exclusive {
		return f.publishExclusive()
	}
	for n := range maxCopies {
		final := copyName(f.name, n)
		err := f.s.root.Link(f.tmp, final)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if isLinkUnsupported(err) {
			return f.publishByRename()
		}
		if err != nil {
			return "", fmt.Errorf("name %s in %s: %w", final, f.s.dir, err)
		}
		if err := f.s.root.Remove(f.tmp); err != nil {
			// The file is in place; only a leftover remains.
			return final, fmt.Errorf("remove temporary file of %s: %w", final, err)
		}
		return final, nil
	}
	return "", fmt.Errorf("name %s in %s: %d copies are already waiting", f.name, f.s.dir, maxCopies)
}

// renameMu makes the check and the rename of publishByRename one step for
// every goroutine of this process.
var renameMu sync.Mutex

// publishByRename serves filesystems without hard links. It is safe as long
// as only this process writes files of these names into the spool.
func (f *File) publishByRename() (string, error) {
	renameMu.Lock()
	defer renameMu.Unlock()
	for n := range maxCopies {
		final := copyName(f.name, n)
		if _, err := f.s.root.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := f.s.root.Rename(f.tmp, final); err != nil {
			return "", fmt.Errorf("name %s in %s: %w", final, f.s.dir, err)
		}
		return final, nil
	}
	return "", fmt.Errorf("name %s in %s: %d copies are already waiting", f.name, f.s.dir, maxCopies)
}

func isLinkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EMLINK)
}

// copyName is name for n = 0, and otherwise puts ".n" before the extension so
// that the copy still ends in .data.
func copyName(name string, n int) string {
	if n == 0 {
		return name
	}
	suffix := "." + strconv.Itoa(n)
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i] + suffix + name[i:]
	}
	return name + suffix
}

// Room is the space on the spool's filesystem, in bytes.
type Room struct {
	Avail uint64 // available to this process
	Total uint64 // the filesystem's size
	Block uint64 // the unit a file's data is allocated in
}

// Blocks is the room a file of size bytes takes: whole blocks, plus one for
// what the filesystem adds (an indirect block, the directory entry).
func (r Room) Blocks(size int64) uint64 {
	block := max(r.Block, 1)
	return (uint64(max(size, 0))+block-1)/block*block + block
}

// syncDir makes every entry made in the spool directory so far durable,
// sharing the fsync with concurrent callers (see dirSyncer).
func (s *Spool) syncDir() error { return s.dirSync.sync() }
