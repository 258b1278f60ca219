package spool

import (
	"fmt"
	"sync"
)

// dirSyncer makes the directory entries of concurrent Commits durable with
// shared fsyncs of the spool directory (group commit).
//
// The guarantee is the one a fsync per Commit gives: a caller returns only
// after a directory fsync that began after its call (and so after its link)
// has finished. A caller that arrives while a fsync is running waits for the
// next one, which then covers every caller that arrived meanwhile. Nobody
// waits longer than two directory fsyncs, and nothing is counted before its
// own entry is durable; what is saved is the fsyncs, not any safety.
type dirSyncer struct {
	fsync func() error // of the directory

	mu      sync.Mutex
	cond    sync.Cond
	running bool
	started uint64 // generation of the last fsync started
	done    uint64 // generation of the last fsync finished
	// err is the first failure. It sticks: after a failed directory fsync
	// the kernel may forget the failure, so no later fsync proves anything
	// about the entries it did not write.
	err error
}

func newDirSyncer(fsync func() error) *dirSyncer {
	d := &dirSyncer{fsync: fsync}
	d.cond.L = &d.mu
	return d
}

// sync returns once every entry made before the call is durable.
func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	need := d.started + 1 // the first fsync to start from now on
	for d.done < need && d.err == nil {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		gen := d.started
		d.mu.Unlock()
		err := d.fsync()
		d.mu.Lock()
		d.running = false
		d.done = gen
		if err != nil && d.err == nil {
			d.err = fmt.Errorf("fsync of the spool directory: %w", err)
		}
		d.cond.Broadcast()
	}
	return d.err
}
