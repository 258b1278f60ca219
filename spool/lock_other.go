//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package spool

import "os"

// Without flock no process can tell whether another is writing, so
// Recover always reports the spool in use and removes nothing.
func lockExclusive(*os.File) (bool, error) { return false, nil }

func lockShared(*os.File) error { return nil }
