//go:build linux || darwin || freebsd

package spool

import (
	"fmt"
	"syscall"
)

// Space returns the bytes available to this process on the spool's
// filesystem, and the filesystem's size.
func (s *Spool) Space() (avail, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", s.dir, err)
	}
	bsize := uint64(st.Bsize) // int64 on Linux, uint32 on macOS
	return uint64(st.Bavail) * bsize, uint64(st.Blocks) * bsize, nil
}
