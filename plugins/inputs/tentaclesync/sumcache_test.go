package tentaclesync

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSumCacheForgetsAChangedFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the cache works on Linux only")
	}
	path := filepath.Join(t.TempDir(), "a.conf")
	require.NoError(t, os.WriteFile(path, []byte("one"), 0o644))
	info, err := os.Lstat(path)
	require.NoError(t, err)
	var sc sumCache
	c := content{sum: "sum-of-one", size: 3}

	sc.put("conf/a.conf", info, c, time.Now())
	_, ok := sc.get("conf/a.conf", info)
	require.False(t, ok, "a file just changed may change again unseen within the clock tick")

	sc.put("conf/a.conf", info, c, time.Now().Add(racyWindow))
	got, ok := sc.get("conf/a.conf", info)
	require.True(t, ok)
	require.Equal(t, c, got)

	// Replaced as rsync -t does: same size, the old modification time, a
	// new inode.
	tmp := filepath.Join(filepath.Dir(path), ".a.conf.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("two"), 0o644))
	require.NoError(t, os.Chtimes(tmp, info.ModTime(), info.ModTime()))
	require.NoError(t, os.Rename(tmp, path))
	changed, err := os.Lstat(path)
	require.NoError(t, err)
	_, ok = sc.get("conf/a.conf", changed)
	require.False(t, ok)

	sc.keep(map[string]bool{})
	_, ok = sc.get("conf/a.conf", info)
	require.False(t, ok, "forgotten once the file is gone")
}
