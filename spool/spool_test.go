package spool_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/spool"
)

func open(t *testing.T) (*spool.Spool, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := spool.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestFileAppearsWholeOnCommit(t *testing.T) {
	s, dir := open(t)
	f, err := s.Create("agent.1.data")
	require.NoError(t, err)
	_, err = io.WriteString(f, "<agent_data/>")
	require.NoError(t, err)

	pending := names(t, dir)
	require.Len(t, pending, 1)
	require.True(t, strings.HasPrefix(pending[0], spool.TempPrefix), "written under a temporary name")
	require.False(t, strings.HasSuffix(pending[0], ".data"), "the Data Server must not pick it up")

	name, err := f.Commit()
	require.NoError(t, err)
	require.Equal(t, "agent.1.data", name)
	require.Equal(t, []string{"agent.1.data"}, names(t, dir), "no temporary file is left")
	got, _ := os.ReadFile(filepath.Join(dir, name))
	require.Equal(t, "<agent_data/>", string(got))
}

func TestAbortLeavesNothing(t *testing.T) {
	s, dir := open(t)
	f, err := s.Create("a.data")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "half")
	f.Abort()
	require.Empty(t, names(t, dir))
}

func TestExistingFileIsNeverOverwritten(t *testing.T) {
	s, dir := open(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.5.data"), []byte("first"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.5.1.data"), []byte("second"), 0o644))

	f, err := s.Create("a.5.data")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "third")
	name, err := f.Commit()
	require.NoError(t, err)
	require.Equal(t, "a.5.2.data", name, "a copy keeps the .data extension")

	for file, want := range map[string]string{"a.5.data": "first", "a.5.1.data": "second", "a.5.2.data": "third"} {
		got, _ := os.ReadFile(filepath.Join(dir, file))
		require.Equal(t, want, string(got))
	}
}

func TestSymlinkInTheSpoolIsNeverFollowed(t *testing.T) {
	s, dir := open(t)
	outside := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(outside, []byte("untouched"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "evil.data")))

	f, err := s.Create("evil.data")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "payload")
	name, err := f.Commit()
	require.NoError(t, err)
	require.Equal(t, "evil.1.data", name)
	got, _ := os.ReadFile(outside)
	require.Equal(t, "untouched", string(got))
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"agent.1.data", "señal 1.data", "no-extension", "caf\xe9-pc.1.data", "a\x1b.data", "a\n.data"} {
		require.NoError(t, spool.CheckName(name), name)
	}
	for _, name := range []string{"", ".", "..", "../x.data", "a/b.data", `a\b.data`, "/etc/passwd",
		"a\x00.data", spool.TempPrefix + "x.tmp", strings.Repeat("a", 300)} {
		require.ErrorIs(t, spool.CheckName(name), spool.ErrUnsafeName, "%q", name)
		s, _ := open(t)
		_, err := s.Create(name)
		require.ErrorIs(t, err, spool.ErrUnsafeName, "%q", name)
	}
}

func TestOpenNeedsADirectory(t *testing.T) {
	_, err := spool.Open(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = spool.Open(file)
	require.ErrorContains(t, err, "not a directory")
}

func TestCommitKeepsTheBytesWhenNoNameIsFree(t *testing.T) {
	s, dir := open(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.data"), nil, 0o644))
	for n := 1; n < 1000; n++ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a."+strconv.Itoa(n)+".data"), nil, 0o644))
	}
	f, err := s.Create("a.data")
	require.NoError(t, err)
	_, _ = io.WriteString(f, "the only copy")
	name, err := f.Commit()
	require.Empty(t, name)
	require.ErrorContains(t, err, "1000 copies are already waiting")
	require.ErrorContains(t, err, "its bytes are kept in "+filepath.Join(dir, spool.TempPrefix))
	kept, _ := filepath.Glob(filepath.Join(dir, spool.TempPrefix+"*"))
	require.Len(t, kept, 1)
	require.True(t, strings.HasSuffix(kept[0], ".kept"), "out of the way of Recover: %s", kept[0])
	got, _ := os.ReadFile(kept[0])
	require.Equal(t, "the only copy", string(got))

	rec, err := s.Recover()
	require.NoError(t, err)
	defer rec.Release()
	require.Empty(t, rec.Removed)
	require.FileExists(t, kept[0], "a restart keeps the only copy")
}

func TestBigFileArrivesWholeThroughEarlyWriteback(t *testing.T) {
	s, dir := open(t)
	f, err := s.Create("big.data")
	require.NoError(t, err)
	var want []byte
	for i := range 20 { // 20 MiB: more than two writeback chunks
		block := []byte(strings.Repeat(strconv.Itoa(i%10), 1<<20))
		_, err := f.Write(block)
		require.NoError(t, err)
		want = append(want, block...)
	}
	name, err := f.Commit()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the file holds every byte in order")
}

func TestConcurrentCommitsAllArrive(t *testing.T) {
	s, dir := open(t)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if err := commit(s, fmt.Sprintf("w%d.%d.data", w, i), "<agent_data/>"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, names(t, dir), 200)
}

func commit(s *spool.Spool, name, body string) error {
	f, err := s.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, body); err != nil {
		f.Abort()
		return err
	}
	_, err = f.Commit()
	return err
}

func TestRoomCountsWholeBlocksAndOneMore(t *testing.T) {
	room := spool.Room{Block: 4096}
	for size, want := range map[int64]uint64{0: 4096, 1: 8192, 4096: 8192, 4097: 12288} {
		require.Equal(t, want, room.Blocks(size), "size %d", size)
	}
}

func TestCommitIncompleteKeepsTheBytesAsideAndNeverOverwrites(t *testing.T) {
	s, dir := open(t)
	for range 2 {
		f, err := s.Create("a.1.data")
		require.NoError(t, err)
		_, _ = io.WriteString(f, "<agent_data>half")
		_, err = f.CommitIncomplete()
		require.NoError(t, err)
	}
	for _, name := range []string{"a.1.data.incomplete", "a.1.data.1.incomplete"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, "<agent_data>half", string(got))
	}
	_, err := os.Stat(filepath.Join(dir, "a.1.data"))
	require.ErrorIs(t, err, os.ErrNotExist, "never under the name the Data Server takes")
}

func TestOnePullerPerServer(t *testing.T) {
	s, dir := open(t)
	other, err := spool.Open(dir) // another process's open of the spool
	require.NoError(t, err)
	defer other.Close()

	lock, err := s.LockPull("127.0.0.1:41121")
	require.NoError(t, err)
	_, err = other.LockPull("127.0.0.1:41121")
	require.ErrorIs(t, err, spool.ErrPullBusy)
	elsewhere, err := other.LockPull("127.0.0.2:41121")
	require.NoError(t, err, "another server is free")
	elsewhere.Release()

	lock.Release()
	again, err := other.LockPull("127.0.0.1:41121")
	require.NoError(t, err)
	again.Release()
}
