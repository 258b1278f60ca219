package spool

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// ErrPullBusy reports a server that another process is pulling into this
// spool.
var ErrPullBusy = errors.New("another process is pulling from this server into this spool")

// PullLock is this process's hold on one server's pull into the spool.
type PullLock struct{ f *os.File }

// LockPull takes the lock that lets one process at a time pull from the
// server called key into this spool, without waiting: it returns
// ErrPullBusy while another process holds it. Two pullers of one server
// would both be sent a file they both move, and each would take the other's
// vanished files for losses.
func (s *Spool) LockPull(key string) (*PullLock, error) {
	if err := s.root.Mkdir(PullLockDir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("make %s in %s: %w", PullLockDir, s.dir, err)
	}
	name := path.Join(PullLockDir, pullLockName(key))
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s in %s: %w", name, s.dir, err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = ErrPullBusy
		}
		return nil, err
	}
	return &PullLock{f: f}, nil
}

// Release lets another process pull from the server. Exiting does it too.
func (l *PullLock) Release() {
	if l != nil {
		_ = l.f.Close()
	}
}

// PullLockDir, in the spool, holds the pull locks, out of the way of the
// Data Server and of the spool's files.
const PullLockDir = TempPrefix + "pulls"

// pullLockName is a readable, safe name for key, made unique by a digest:
// "127.0.0.1_41121-<8 hex>.lock".
func pullLockName(key string) string {
	readable := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, key)
	sum := sha256.Sum256([]byte(key))
	return readable + "-" + hex.EncodeToString(sum[:4]) + ".lock"
}
