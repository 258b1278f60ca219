package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Recovery is the outcome of Recover, and this process's hold on the spool.
type Recovery struct {
	// Removed are the temporary files a crash left, relative to the spool.
	Removed []string
	// InUse tells that another process held the spool, so nothing was
	// removed: its files in flight look like a crash's leftovers.
	InUse bool

	hold *os.File
}

// Release lets another process recover the spool. Exiting does it too.
func (r *Recovery) Release() {
	if r != nil && r.hold != nil {
		_ = r.hold.Close()
		r.hold = nil
	}
}

// Recover removes the temporary files that a crash left behind in the spool
// and in its conf/ and md5/ subdirectories. It touches nothing else: only
// names that Create makes, and never through a symlink. An error means that
// some leftovers may remain; the spool is held all the same.
//
// A file in flight of another process looks just the same, so Recover holds
// the spool, with a lock on the directory itself (nothing is added to the
// spool), until Release: exclusively while it removes, shared afterwards.
// While another process holds it, Recover removes nothing and reports InUse.
func (s *Spool) Recover() (*Recovery, error) {
	hold, err := s.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.dir, err)
	}
	rec := &Recovery{hold: hold}
	exclusive, err := lockExclusive(hold)
	if err != nil {
		// Without the lock (say flock on NFS) nothing is safe to remove.
		rec.InUse = true
		return rec, fmt.Errorf("lock %s: %w; nothing removed", s.dir, err)
	}
	if !exclusive {
		rec.InUse = true
		return rec, nil
	}
	rec.Removed, err = s.removeTemps()
	if serr := lockShared(hold); serr != nil {
		err = errors.Join(err, fmt.Errorf("lock %s: %w", s.dir, serr))
	}
	return rec, err
}

// recoverDirs are where Create may have been writing: the spool, and the
// subdirectories that configuration pulls write into.
var recoverDirs = []string{".", "conf", "md5"}

func (s *Spool) removeTemps() ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range recoverDirs {
		r, err := s.recoverDir(dir)
		removed = append(removed, r...)
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

func (s *Spool) recoverDir(dir string) ([]string, error) {
	entries, err := fs.ReadDir(s.root.FS(), dir)
	if errors.Is(err, fs.ErrNotExist) && dir != "." {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path.Join(s.dir, dir), err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name()) {
			continue
		}
		name := path.Join(dir, e.Name())
		if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", path.Join(s.dir, name), err))
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// isTempName matches exactly the names Create gives: the prefix, the 26
// characters of rand.Text and the suffix.
func isTempName(name string) bool {
	middle, ok := strings.CutPrefix(name, TempPrefix)
	if !ok {
		return false
	}
	middle, ok = strings.CutSuffix(middle, tempSuffix)
	return ok && len(middle) == 26 && strings.Trim(middle, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == ""
}
