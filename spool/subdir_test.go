package spool_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
)

func TestSubdirFilesAreListedAndRead(t *testing.T) {
	s, dir := open(t)
	_, err := s.OpenSubdir("conf")
	require.ErrorIs(t, err, fs.ErrNotExist)

	conf, err := s.MakeSubdir("conf")
	require.NoError(t, err)
	defer conf.Close()
	require.DirExists(t, filepath.Join(dir, "conf"))
	for name, data := range map[string]string{"b.conf": "b", "a.conf": "a", "notes.txt": "n", spool.TempPrefix + "x.conf": "t"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "conf", name), []byte(data), 0o644))
	}
	outside := filepath.Join(t.TempDir(), "secret.conf")
	require.NoError(t, os.WriteFile(outside, []byte("secret"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "conf", "link.conf")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "conf", "dir.conf"), 0o755))

	names, err := conf.Files(".conf")
	require.NoError(t, err)
	require.Equal(t, []string{"a.conf", "b.conf"}, names, "regular files with the suffix, sorted; no links, directories or temporary files")

	data, err := conf.ReadFile("a.conf", 1)
	require.NoError(t, err)
	require.Equal(t, "a", string(data))
	_, err = conf.ReadFile("link.conf", 100)
	require.Error(t, err, "a symbolic link is never followed")
	_, err = conf.ReadFile("dir.conf", 100)
	require.Error(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf", "big.conf"), []byte("12345"), 0o644))
	_, err = conf.ReadFile("big.conf", 4)
	require.ErrorIs(t, err, spool.ErrTooBig)
	_, err = s.OpenSubdir("../x")
	require.ErrorIs(t, err, spool.ErrUnsafeName)
}

func TestCreateNewNeverReplacesNorCopies(t *testing.T) {
	s, dir := open(t)
	md5, err := s.MakeSubdir("md5")
	require.NoError(t, err)
	defer md5.Close()

	f, err := md5.CreateNew("h.md5")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "uploaded")
	name, err := f.Commit()
	require.NoError(t, err)
	require.Equal(t, "h.md5", name)

	f, err = md5.CreateNew("h.md5")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "second")
	name, err = f.Commit()
	require.True(t, errors.Is(err, fs.ErrExist), "%v", err)
	require.Empty(t, name)
	require.Equal(t, []string{"h.md5"}, names(t, filepath.Join(dir, "md5")), "no copy, no temporary file")
	got, _ := os.ReadFile(filepath.Join(dir, "md5", "h.md5"))
	require.Equal(t, "uploaded", string(got), "the file already there wins")
}
