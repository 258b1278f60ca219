package tentaclesync

import (
	"io/fs"
	"sync"
	"time"
)

// sumCache remembers the SHA-256 of central configuration files by inode,
// size and times, so that an unchanged file is not read again every gather
// for every server. As git does for its index, a file changed less than
// racyWindow before it was read is not remembered: a second change within
// the filesystem's clock tick could leave every stamp as it was.
type sumCache struct {
	mu sync.Mutex
	m  map[string]cachedSum
}

type cachedSum struct {
	stamp fileStamp
	c     content
}

// fileStamp is what changes when a file's content does.
type fileStamp struct {
	ino          uint64
	size         int64
	mtime, ctime time.Time
}

const racyWindow = 2 * time.Second

func (sc *sumCache) get(key string, info fs.FileInfo) (content, bool) {
	stamp, ok := stampOf(info)
	if !ok {
		return content{}, false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	cached, ok := sc.m[key]
	return cached.c, ok && cached.stamp == stamp
}

// put remembers c for the file as info described it before it was read.
func (sc *sumCache) put(key string, info fs.FileInfo, c content, readAt time.Time) {
	stamp, ok := stampOf(info)
	if !ok || readAt.Sub(stamp.mtime) < racyWindow || readAt.Sub(stamp.ctime) < racyWindow {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.m == nil {
		sc.m = map[string]cachedSum{}
	}
	sc.m[key] = cachedSum{stamp: stamp, c: c}
}

// keep forgets every file not in seen.
func (sc *sumCache) keep(seen map[string]bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for key := range sc.m {
		if !seen[key] {
			delete(sc.m, key)
		}
	}
}
