package spool

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDirSyncerCoversEveryCallerWithALaterFsync checks the group commit's
// guarantee on a clock of events: for each caller, some fsync started after
// the caller arrived and finished before the caller returned.
func TestDirSyncerCoversEveryCallerWithALaterFsync(t *testing.T) {
	var clock atomic.Int64
	var mu sync.Mutex
	type span struct{ start, end int64 }
	var fsyncs []span
	d := newDirSyncer(func() error {
		start := clock.Add(1)
		time.Sleep(100 * time.Microsecond) // the disk at work
		mu.Lock()
		fsyncs = append(fsyncs, span{start, clock.Add(1)})
		mu.Unlock()
		return nil
	})

	const callers = 64
	calls := make([]span, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for range 10 {
				arrived := clock.Add(1)
				assert.NoError(t, d.sync())
				calls[i] = span{arrived, clock.Add(1)}
				mu.Lock()
				covered := false
				for _, f := range fsyncs {
					covered = covered || (f.start > calls[i].start && f.end < calls[i].end)
				}
				mu.Unlock()
				assert.True(t, covered, "caller %d returned without a fsync that began after it arrived", i)
			}
		})
	}
	wg.Wait()
	require.Less(t, len(fsyncs), callers*10, "concurrent callers shared fsyncs")
}

func TestDirSyncerFailureSticks(t *testing.T) {
	fail := errors.New("EIO")
	n := 0
	d := newDirSyncer(func() error {
		n++
		if n == 2 {
			return fail
		}
		return nil
	})
	require.NoError(t, d.sync())
	require.ErrorIs(t, d.sync(), fail)
	require.ErrorIs(t, d.sync(), fail, "a later fsync proves nothing about the entries of the failed one")
}
