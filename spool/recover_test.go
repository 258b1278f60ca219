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
	require.NoError(t, os.Mkdir(filepath.Join(dir, "netflow"), 0o755))
	want := []string{crashed("."), crashed("conf")}
	notOurs := crashed("netflow") // tentaclesync never writes there

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

	rec, err := s.Recover()
	require.NoError(t, err)
	defer rec.Release()
	require.False(t, rec.InUse)
	require.ElementsMatch(t, want, rec.Removed)
	for _, name := range want {
		require.NoFileExists(t, filepath.Join(dir, name))
	}
	for name, body := range others {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, body, string(got))
	}
	require.FileExists(t, victim, "symlinks are not followed")
	require.FileExists(t, filepath.Join(dir, notOurs))
}

func TestRecoverRemovesNothingWhileAnotherProcessWrites(t *testing.T) {
	s, dir := open(t)
	running, err := s.Recover() // the tentaclesync that is running
	require.NoError(t, err)
	f, err := s.Create("agent.data")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "in flight")

	// A second one starts on the same spool (say -once, to check a
	// configuration): its temporary files look like a crash's.
	other, err := spool.Open(dir)
	require.NoError(t, err)
	defer other.Close()
	rec, err := other.Recover()
	require.NoError(t, err)
	require.True(t, rec.InUse)
	require.Empty(t, rec.Removed)
	rec.Release()

	name, err := f.Commit()
	require.NoError(t, err, "the file in flight was left alone")
	require.Equal(t, "agent.data", name)

	crashed, err := s.Create("crashed.data")
	require.NoError(t, err)
	_ = crashed // never committed: the process "dies" and lets go of the spool
	running.Release()
	rec, err = other.Recover()
	require.NoError(t, err)
	defer rec.Release()
	require.False(t, rec.InUse)
	require.Len(t, rec.Removed, 1)
}

func TestSpaceReportsTheFilesystem(t *testing.T) {
	s, _ := open(t)
	room, err := s.Space()
	require.NoError(t, err)
	require.Positive(t, room.Total)
	require.LessOrEqual(t, room.Avail, room.Total)
	require.Positive(t, room.Block)
}
