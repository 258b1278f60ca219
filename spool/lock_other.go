//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package spool

import "os"

// Without flock no process can tell whether another is writing, so
// Recover always reports the spool in use and removes nothing.
func lockExclusive(*os.File) (bool, error) { return false, nil }

func lockShared(*os.File) error { return nil }

// Without flock every pull lock is granted: two pullers of one server are
// not kept apart on this system.
func tryLock(*os.File) (bool, error) { return true, nil }
