package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's first command must work on a fresh machine.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, run(dir, 3))
	entries, err := os.ReadDir(filepath.Join(dir, "data_in"))
	require.NoError(t, err)
	require.Len(t, entries, 6, "two data files per agent")
	left := listFiles(filepath.Join(dir, "remote"))
	require.Equal(t, []string{"conf/e3b0c44298fc1c14.conf", "site-host99.1.data"}, left,
		"the upload in progress and the agent configuration stay on the remote")
}
