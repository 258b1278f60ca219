package tentaclesync

import (
	"slices"
	"time"
)

// Files still being written are not taken. The reference Tentacle server
// writes an upload under its final name, so a listing shows it before it
// is complete, and a MV then takes a truncated copy and deletes the file.
// A file is moved only once it was listed min_file_age ago: an upload
// still being written by then has a writer that paused that long, which
// the wholeness checks then catch (see outcome.go).

// maxSettleWait bounds the wait within one gather for files to settle: a
// longer min_file_age leaves them to a later gather rather than hold this
// one (and its metric) that long.
const maxSettleWait = 10 * time.Second

// settled returns the names first listed at least age ago, and how long
// until all the others will have been; it records when each name
// was first seen and forgets the names no longer listed. The target's busy
// lock guards it.
func (t *target) settled(names []string, now time.Time, age time.Duration) ([]string, time.Duration) {
	if age <= 0 {
		t.firstSeen = nil
		return names, 0
	}
	seen := make(map[string]time.Time, len(names))
	var ready []string
	var wait time.Duration
	for _, name := range names {
		first, ok := t.firstSeen[name]
		if !ok {
			first = now
		}
		seen[name] = first
		if left := age - now.Sub(first); left > 0 {
			wait = max(wait, left)
			continue
		}
		ready = append(ready, name)
	}
	t.firstSeen = seen
	return slices.Clip(ready), wait
}
