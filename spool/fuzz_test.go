package spool_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

// FuzzCreate feeds names as a server's listing may hold them: whatever the
// checks accept lands as one file directly in the spool, and nowhere else.
func FuzzCreate(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		if tentacle.CheckName(name) != nil || spool.CheckName(name) != nil {
			return
		}
		root := t.TempDir()
		dir := filepath.Join(root, "spool")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := spool.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		file, err := s.Create(name)
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		_, _ = io.WriteString(file, "x")
		final, err := file.Commit()
		if err != nil || final != name {
			t.Fatalf("Commit(%q) = %q, %v", name, final, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != name || !entries[0].Type().IsRegular() {
			t.Fatalf("spool holds %v for %q", entries, name)
		}
		if beside, _ := os.ReadDir(root); len(beside) != 1 {
			t.Fatalf("%q wrote beside the spool: %v", name, beside)
		}
	})
}
