package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Recover removes the temporary files that a crash left behind in the spool
// and in its immediate subdirectories (conf/, md5/, ...), and returns their
// paths relative to the spool. It touches nothing else: only names that
// Create makes, and never through a symlink. Run it only while no other
// process writes into this spool, since their files in flight look the same.
func (s *Spool) Recover() ([]string, error) {
	dirs := []string{"."}
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	var removed []string
	var errs []error
	for _, dir := range dirs {
		r, err := s.recoverDir(dir)
		removed = append(removed, r...)
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

func (s *Spool) recoverDir(dir string) ([]string, error) {
	entries, err := fs.ReadDir(s.root.FS(), dir)
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
