package tentacle

import (
	"testing"
	"time"
)

func TestBodyTimeoutGrowsWithSize(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want time.Duration
	}{
		{0, 10 * time.Second},
		{4096, 10 * time.Second},
		{1<<20 - 1, 10 * time.Second},
		{1 << 20, 20 * time.Second},
		{64 << 20, 650 * time.Second},
		{1<<63 - 1, maxBodyTimeout}, // capped, no overflow
	} {
		if got := bodyTimeout(10*time.Second, tc.size); got != tc.want {
			t.Errorf("bodyTimeout(10s, %d) = %s, want %s", tc.size, got, tc.want)
		}
	}
	if got := bodyTimeout(3*time.Hour, 2<<40); got != maxBodyTimeout {
		t.Errorf("a long timeout for a huge file must saturate, not overflow: got %s", got)
	}
	if got := bodyTimeout(0, 1<<30); got != 0 {
		t.Errorf("no timeout stays no timeout, got %s", got)
	}
}
