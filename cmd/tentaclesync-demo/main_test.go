package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's first command must work on a fresh machine.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, run(dir, 3))
	central := listFiles(filepath.Join(dir, "data_in"))
	require.Equal(t, []string{
		"collections/fc_1.zip", "conf/e3b0c44298fc1c14.conf", "md5/e3b0c44298fc1c14.md5", "md5/fc_1.md5",
		"site-host01.1000.data", "site-host01.1001.data", "site-host02.1000.data",
		"site-host02.1001.data", "site-host03.1000.data", "site-host03.1001.data",
	}, central, "two data files per agent, and the agent's first-contact configuration")
	left := listFiles(filepath.Join(dir, "remote"))
	require.Equal(t, []string{
		"collections/fc_1.zip", "conf/e3b0c44298fc1c14.conf", "md5/e3b0c44298fc1c14.md5", "md5/fc_1.md5",
		"site-host99.1.data",
	}, left, "the upload in progress and the agent configuration stay on the remote; the collection arrived")
}
