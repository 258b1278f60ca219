package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/state"
)

func TestSaveAndLoad(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Load(dir, "10.0.0.1:41121")
	require.NoError(t, err)
	require.Empty(t, st.Files, "a server never seen has no state")

	st.Files["conf/a.conf"] = state.Entry{SHA256: state.Sum([]byte("x")), Size: 1, Pushed: true}
	require.NoError(t, st.Save(dir))
	again, err := state.Load(dir, "10.0.0.1:41121")
	require.NoError(t, err)
	require.Equal(t, st, again)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")
	info, err := entries[0].Info()
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm())
}

func TestLoadRefusesWhatItCannotTrust(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, state.FileName("h:1")), []byte(body), 0o600))
	}
	for body, want := range map[string]string{
		`{"version":2,"server":"h:1","files":{}}`: "format version 2",
		`{"version":1,"server":"h:2","files":{}}`: `not "h:1"`,
		`{"version":1,`: "unexpected end of JSON",
	} {
		write(body)
		st, err := state.Load(dir, "h:1")
		require.ErrorContains(t, err, want)
		require.Empty(t, st.Files, "the caller gets an empty state to start afresh")
	}
}

func TestFileNamesAreSafeAndDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, server := range []string{"10.0.0.1:41121", "[fe80::1]:41121", "fe80__1_:41121", "../../etc:1", "host.example:41121"} {
		name := state.FileName(server)
		require.NotContains(t, name, "/")
		require.False(t, strings.HasPrefix(name, "."))
		require.Empty(t, seen[name], "%s and %s share %s", server, seen[name], name)
		seen[name] = server
	}
}

func TestPrepareMakesTheDirectoryOrSaysWhy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "tentaclesync")
	require.NoError(t, state.Prepare(dir))
	require.DirExists(t, dir)

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.Error(t, state.Prepare(filepath.Join(file, "sub")))
	require.Error(t, state.Prepare(""))
}
