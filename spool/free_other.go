//go:build !(linux || darwin || freebsd)

package spool

import (
	"errors"
	"fmt"
)

// Space is not available on this system; the free-space guard is off.
func (s *Spool) Space() (Room, error) {
	return Room{}, fmt.Errorf("statfs %s: %w", s.dir, errors.ErrUnsupported)
}
