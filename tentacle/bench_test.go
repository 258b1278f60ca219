package tentacle_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tentaclesync/tentaclesync/tentacle"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

// BenchmarkMove4KiB moves 4 KiB files one after another over one connection
// from the Go server in its reference-faithful mode (1 KiB writes, Nagle
// on). Without prompt ACKs this is bound by the 40 ms delayed-ACK timer.
func BenchmarkMove4KiB(b *testing.B) {
	dir := b.TempDir()
	body := make([]byte, 4096)
	for i := range b.N {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.data", i)), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srv, err := server.Start("127.0.0.1:0", server.Config{Dir: dir, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c, err := tentacle.Dial(ctx, srv.Addr(), tentacle.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	discard := func(int64) (io.Writer, error) { return io.Discard, nil }
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Move(ctx, fmt.Sprintf("f%d.data", i), discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
