package tentacle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

// The seed corpora are in testdata/fuzz; `go test` runs them, and .ci/run
// fuzzes each target briefly.

// fetchCommands are the commands whose answer ParseSizeAnswer reads; the
// command is ours, only the answer comes from the server.
var fetchCommands = []string{"LS", "MV", "RECV", "ZRECV"}

func FuzzParseSizeAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, cmdIndex uint8, answer string) {
		cmd := fetchCommands[int(cmdIndex)%len(fetchCommands)]
		size, err := tentacle.ParseSizeAnswer(cmd, answer)
		var (
			remote   *tentacle.RemoteError
			protocol *tentacle.ProtocolError
		)
		switch {
		case err == nil:
			if size < 0 {
				t.Fatalf("negative size %d from %q", size, answer)
			}
			digits := strings.TrimPrefix(answer, cmd+" SIZE ")
			if n, perr := strconv.ParseInt(digits, 10, 64); perr != nil || n != size || strings.ContainsAny(digits, "+- ") {
				t.Fatalf("size %d from %q", size, answer)
			}
		case errors.As(err, &remote):
			if !strings.HasPrefix(answer, cmd+" ERR") {
				t.Fatalf("remote error from %q", answer)
			}
		case errors.As(err, &protocol):
			if strings.ContainsFunc(protocol.Error(), unicode.IsControl) {
				t.Fatalf("control character in the message %q: it would forge log lines", protocol.Error())
			}
		default:
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzParseListing(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		total := 0
		for _, name := range tentacle.ParseListing(body) {
			if name == "" || strings.Contains(name, "\n") {
				t.Fatalf("entry %q", name)
			}
			total += len(name) + 1
		}
		if total > len(body)+1 {
			t.Fatalf("%d bytes of entries from %d", total, len(body))
		}
	})
}

// FuzzClient plays a server whose every byte is fuzzed, for each command
// that reads server output: LS, MV, RECV and ZRECV (whose zip body the
// client passes on unparsed), each on a fresh connection. Whatever comes,
// the client must not panic or hang, must never write more than the
// announced size unless it reports the surplus, and must report what it
// wrote.
func FuzzClient(f *testing.F) {
	f.Fuzz(func(t *testing.T, output []byte) {
		c := fuzzedServer(output)
		_, _ = c.List(context.Background(), "")
		c.Close()
		for _, cmd := range []string{"MV", "RECV", "ZRECV"} {
			c := fuzzedServer(output)
			fetch := map[string]func(context.Context, string, tentacle.AcceptFunc) (int64, error){
				"MV": c.Move, "RECV": c.Recv, "ZRECV": c.ZRecv,
			}[cmd]
			var announced int64
			var body bytes.Buffer
			n, err := fetch(context.Background(), "a.data", func(size int64) (io.Writer, error) {
				announced = size
				if size > 1<<16 {
					return nil, errors.New("too big")
				}
				return &body, nil
			})
			c.Close()
			// Bytes beyond the announced size reach the writer only
			// with an OverrunError that counts them.
			var extra int64
			if oe := (*tentacle.OverrunError)(nil); errors.As(err, &oe) {
				extra = oe.Extra
			}
			if int64(body.Len()) != n+extra || n > announced || (err == nil && n != announced) || extra > max(announced, 1<<20)+64<<10 {
				t.Fatalf("%s: announced %d, reported %d (+%d surplus), wrote %d, err %v", cmd, announced, n, extra, body.Len(), err)
			}
		}
	})
}

// fuzzedServer is a client connected to a server that sends output, reads
// whatever comes, and hangs up.
func fuzzedServer(output []byte) *tentacle.Client {
	client, server := net.Pipe()
	go func() {
		go func() { _, _ = io.Copy(io.Discard, server) }()
		_, _ = server.Write(output)
		server.Close()
	}()
	return tentacle.NewClient(client, tentacle.Options{Timeout: time.Second, MaxListSize: 1 << 16})
}
