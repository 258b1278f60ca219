package tentaclesync

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReserveKeepsMinFreeSpaceAcrossFilesInFlight(t *testing.T) {
	p := &TentacleSync{MinFreeSpace: freeSpace{percent: 10}}
	const avail, total = 500, 1000 // 100 must stay free: 400 to give

	require.NoError(t, p.reserve(avail, total, 300))
	require.ErrorIs(t, p.reserve(avail, total, 101), errNoRoom, "300 are still being written")
	require.NoError(t, p.reserve(avail, total, 100))
	require.ErrorIs(t, p.reserve(avail, total, 1), errNoRoom)
	p.release(300)
	require.NoError(t, p.reserve(avail, total, 300))
	p.release(300)
	p.release(100)
	require.Zero(t, p.reserved.Load())

	p.MinFreeSpace = freeSpace{bytes: 450}
	require.ErrorIs(t, p.reserve(avail, total, 51), errNoRoom)
	require.NoError(t, p.reserve(avail, total, 50))
	p.release(50)

	// Many transfers at once never claim more than there is.
	p.MinFreeSpace = freeSpace{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 100 {
		wg.Go(func() {
			if p.reserve(avail, total, 10) == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 50, granted)
	require.Equal(t, int64(500), p.reserved.Load())
}
