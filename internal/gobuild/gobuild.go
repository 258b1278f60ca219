// Package gobuild builds a command of this module for the tests that run
// it as a process.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Binary is the command in the current directory, built on first use.
type Binary struct {
	name string
	race bool
	once sync.Once
	dir  string
	path string
	err  error
}

// Once is the command in the current directory, to be built as name, with
// the race detector when race is set.
func Once(name string, race bool) *Binary {
	return &Binary{name: name, race: race}
}

// Path builds the command on the first call and returns its path. Call it
// from the tests, not from TestMain: only there does go test's cache see the
// files that Command reads.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", b.name+"-test-"); b.err == nil {
			b.path = filepath.Join(b.dir, b.name)
			b.err = Command(b.path, b.race)
		}
	})
	if b.err != nil {
		t.Fatalf("building %s: %v", b.name, b.err)
	}
	return b.path
}

// Remove deletes the built command; TestMain calls it after the tests.
func (b *Binary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// Command builds the main package in the current directory into out, with
// the race detector when race is set.
//
// go test caches a result by the test binary and the files the test opens;
// a command run as a child is neither. Command therefore reads every Go file
// of this module that the command is built from, and go.mod and go.sum, so
// that a change to any of them runs the test again.
func Command(out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return readSources()
}

func readSources() error {
	list, err := exec.Command("go", "list", "-deps",
		"-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", ".").Output()
	if err != nil {
		return fmt.Errorf("go list: %w", err)
	}
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	files := []string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}
	for _, dir := range strings.Fields(string(list)) {
		sources, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return err
		}
		files = append(files, sources...)
	}
	for _, f := range files {
		if _, err := os.ReadFile(f); err != nil {
			return err
		}
	}
	return nil
}
