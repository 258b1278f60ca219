package tentaclesync

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/influxdata/telegraf/config"
)

// freeSpace is min_free_space: a number of bytes, or a percent of the spool
// filesystem's size.
type freeSpace struct {
	bytes   uint64
	percent float64
}

func (f *freeSpace) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	if p, ok := strings.CutSuffix(text, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v >= 0 && v < 100) { // NaN too
			return fmt.Errorf("min_free_space: %q is not a percent from 0 to below 100", text)
		}
		*f = freeSpace{percent: v}
		return nil
	}
	var size config.Size
	if err := size.UnmarshalText([]byte(text)); err != nil {
		return fmt.Errorf("min_free_space: %q is neither a size nor a percent: %w", text, err)
	}
	if size < 0 {
		return fmt.Errorf("min_free_space: %q is negative", text)
	}
	*f = freeSpace{bytes: uint64(size)}
	return nil
}

// of is the number of bytes to keep free on a filesystem of total bytes.
func (f freeSpace) of(total uint64) uint64 {
	if f.percent > 0 {
		return uint64(float64(total) * f.percent / 100)
	}
	return f.bytes
}

func (f freeSpace) String() string {
	if f.percent > 0 {
		return strconv.FormatFloat(f.percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatUint(f.bytes, 10) + " bytes"
}

var errNoRoom = errors.New("the spool is too full (min_free_space)")

// reserve claims room in the spool for size bytes, or returns errNoRoom when
// they would bring the filesystem below min_free_space. Claims of files
// still being written count as used, so parallel transfers cannot overshoot
// together. On success the caller must release the claim.
func (t *TentacleSync) reserve(avail, total uint64, size int64) error {
	keep := t.MinFreeSpace.of(total)
	claimed := t.reserved.Add(size)
	if claimed < 0 || uint64(claimed) > avail || avail-uint64(claimed) < keep {
		t.reserved.Add(-size)
		return errNoRoom
	}
	return nil
}

func (t *TentacleSync) release(size int64) { t.reserved.Add(-size) }
