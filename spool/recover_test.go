package spool_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
)

func TestRecoverRemovesOnlyWhatACrashLeft(t *testing.T) {
	s, dir := open(t)
	outside := t.TempDir()
	crashed := func(sub string) string {
		sp, err := spool.Open(filepath.Join(dir, sub))
		require.NoError(t, err)
		defer sp.Close()
		f, err := sp.Create("agent.data")
		require.NoError(t, err)
		_, _ = io.WriteString(f, "half a fi")
		// The process dies here: no Commit, no Abort.
		pending, _ := filepath.Glob(filepath.Join(dir, sub, spool.TempPrefix+"*"))
		require.Len(t, pending, 1)
		rel, _ := filepath.Rel(dir, pending[0])
		return rel
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "conf"), 0o755))
	want := []string{crashed("."), crashed("conf")}

	others := map[string]string{
		"agent.data":                     "waiting for the Data Server",
		"conf/agent.conf":                "a config",
		spool.TempPrefix + "notours.tmp": "a name Create never makes",
		spool.TempPrefix + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.kept":      "complete bytes",
		"x" + spool.TempPrefix + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp": "another prefix",
	}
	for name, body := range others {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	victim := filepath.Join(outside, spool.TempPrefix+"ABCDEFGHIJKLMNOPQRSTUVWXYZ.tmp")
	require.NoError(t, os.WriteFile(victim, nil, 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, spool.TempPrefix+"ABCDEFGHIJKLMNOPQRSTUVW234.tmp")))

	removed, err := s.Recover()
	require.NoError(t, err)
	require.ElementsMatch(t, want, removed)
	for _, name := range want {
		require.NoFileExists(t, filepath.Join(dir, name))
	}
	for name, body := range others {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, body, string(got))
	}
	require.FileExists(t, victim, "symlinks are not followed")
}

func TestSpaceReportsTheFilesystem(t *testing.T) {
	s, _ := open(t)
	avail, total, err := s.Space()
	require.NoError(t, err)
	require.Positive(t, total)
	require.LessOrEqual(t, avail, total)
}
