//go:build linux || darwin || freebsd

package spool

import (
	"fmt"
	"syscall"
)

// Space returns the room on the spool's filesystem.
func (s *Spool) Space() (Room, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return Room{}, fmt.Errorf("statfs %s: %w", s.dir, err)
	}
	bsize := uint64(st.Bsize) // int64 on Linux, uint32 on macOS
	return Room{Avail: uint64(st.Bavail) * bsize, Total: uint64(st.Blocks) * bsize, Block: bsize}, nil
}
