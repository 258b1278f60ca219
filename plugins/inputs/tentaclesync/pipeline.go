package tentaclesync

import (
	"errors"
	"time"
)

var (
	// errStopping declines a file after a local failure or Stop.
	errStopping = errors.New("pulling stopped")
	// errSlowCommit declines a file whose MV answer waited too long for
	// the previous file's commit (see maxCommitOverlap).
	errSlowCommit = errors.New("the previous file's commit was slow")
)

// maxCommitOverlap is how long an MV answer may wait for the previous
// file's commit. The reference server closes a connection idle for about
// 4 s (-t 1, -r 3), and after MV SIZE it waits for our answer: a close then
// would be indistinguishable from a file lost mid-transfer.
const maxCommitOverlap = time.Second

// committing is the commit (fsync, name, directory fsync) of a connection's
// previous moved file, which runs while the connection sends the next MV and
// waits for its answer: on a long link that round trip hides the disk's
// time.
//
// It does not widen what a crash can lose: the next file's "MV OK", after
// which the server sends and deletes it, waits for this commit, so each
// connection still has at most one file that is gone from the server and
// not yet durable in the spool, as with a commit before the next MV. A file
// is counted only when its commit is done, and a failed commit still stops
// the pull before the next file moves.
type committing struct{ done chan struct{} }

// start runs commit in the background; the previous one must be done.
func (c *committing) start(commit func()) {
	done := make(chan struct{})
	c.done = done
	go func() {
		defer close(done)
		commit()
	}()
}

// wait returns when the last commit started is done.
func (c *committing) wait() {
	if c.done != nil {
		<-c.done
	}
}

// waitFor is wait for at most d; it reports whether the commit is done.
func (c *committing) waitFor(d time.Duration) bool {
	if c.done == nil {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}
