package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/gobuild"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	"github.com/tentaclesync/tentaclesync/tentacle"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

var binary = gobuild.Once("tentacle-server", false)

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Remove()
	os.Exit(code)
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start runs the binary and returns the address it printed once listening.
func start(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary.Path(t), args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			return cmd, m[1]
		}
		t.Log(lines.Text())
	}
	t.Fatal("tentacle-server ended without listening")
	return nil, ""
}

func TestServesLikeTheReferenceCommandLine(t *testing.T) {
	dir := t.TempDir()
	storage := filepath.Join(dir, "data_in")
	require.NoError(t, os.MkdirAll(filepath.Join(storage, "conf"), 0o755))
	certs, err := testcerts.Write(dir, "site")
	require.NoError(t, err)
	cmd, addr := start(t, "-a", "127.0.0.1", "-p", "0", "-s", storage, "-I", "-o",
		"-i", server.PandoraFilters, "-x", "s3cret", "-m", "100",
		"-e", certs.ServerCertFile, "-k", certs.ServerKeyFile, "-f", certs.CAFile)

	ctx := context.Background()
	opts := tentacle.Options{TLSConfig: certs.ClientConfig(true), Timeout: 5 * time.Second}
	c, err := tentacle.Dial(ctx, addr, opts)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, "s3cret"))
	require.NoError(t, c.Send(ctx, "agent.1.data", 4, strings.NewReader("data")))
	require.NoError(t, c.Send(ctx, "agent.conf", 4, strings.NewReader("conf")), "-o: SEND may replace")
	require.NoError(t, c.Send(ctx, "agent.conf", 4, strings.NewReader("new!")), "-o: SEND may replace")
	require.Error(t, c.Send(ctx, "big.data", 101, bytes.NewReader(make([]byte, 101))), "-m 100")
	names, err := c.List(ctx, "")
	require.NoError(t, err, "-I enables LS")
	require.Contains(t, names, "agent.1.data")
	require.False(t, slices.Contains(names, "agent.conf"), "-i routes .conf files into conf/")
	var got bytes.Buffer
	_, err = c.Move(ctx, "agent.1.data", func(int64) (io.Writer, error) { return &got, nil })
	require.NoError(t, err, "-I enables MV")
	require.Equal(t, "data", got.String())
	conf, err := os.ReadFile(filepath.Join(storage, "conf", "agent.conf"))
	require.NoError(t, err)
	require.Equal(t, "new!", string(conf))
	require.NoError(t, c.Quit())

	noCert, err := tentacle.Dial(ctx, addr, tentacle.Options{TLSConfig: certs.ClientConfig(false), Timeout: 5 * time.Second})
	if err == nil {
		// Under TLS 1.3 the refusal arrives at the first read.
		err = noCert.Auth(ctx, "s3cret")
		noCert.Close()
	}
	require.Error(t, err, "-f demands a client certificate")

	c, err = tentacle.Dial(ctx, addr, opts)
	require.NoError(t, err)
	require.ErrorIs(t, c.Auth(ctx, "wrong"), tentacle.ErrAuthRejected, "-x")
	c.Close()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "SIGTERM is a clean stop")
}

func TestRefusesABadCommandLine(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "-s: the storage directory is required"},
		{[]string{"-s", filepath.Join(dir, "missing")}, "storage directory"},
		{[]string{"-s", dir, "-e", "cert.pem"}, "-e and -k go together"},
		{[]string{"-s", dir, "-f", "ca.pem"}, "-f needs -e and -k"},
		{[]string{"-s", dir, "-e", "cert.pem", "-k", "key.pem"}, "-e/-k"},
		{[]string{"-s", dir, "-i", "[:conf"}, "-i"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(binary.Path(t), append(tc.args, "-p", "0", "-a", "127.0.0.1")...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%v: want a failed exit, got %v", tc.args, err)
		require.Equal(t, 1, exit.ExitCode(), "%v", tc.args)
		require.Contains(t, stderr.String(), tc.want, "%v", tc.args)
	}
}

func TestReferenceSendsPastTheAnnouncedSize(t *testing.T) {
	for flags, next := range map[string]string{
		"":           "RECV ERR",
		"-reference": strings.Repeat("b", 50) + "RECV ERR",
	} {
		t.Run("flags="+flags, func(t *testing.T) {
			storage := t.TempDir()
			path := filepath.Join(storage, "grow.data")
			require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("a", 100)), 0o644))
			args := []string{"-a", "127.0.0.1", "-p", "0", "-s", storage, "-I"}
			if flags != "" {
				args = append(args, flags)
			}
			_, addr := start(t, args...)

			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			r := bufio.NewReader(c)
			say := func(line string) {
				_, err := io.WriteString(c, line)
				require.NoError(t, err)
			}
			answer := func() string {
				line, err := r.ReadString('\n')
				require.NoError(t, err)
				return strings.TrimSuffix(line, "\n")
			}

			say("MV <grow.data>\n")
			require.Equal(t, "MV SIZE 100", answer())
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(strings.Repeat("b", 50))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			say("MV OK\n")
			body := make([]byte, 100)
			_, err = io.ReadFull(r, body)
			require.NoError(t, err)
			require.Equal(t, strings.Repeat("a", 100), string(body))
			say("RECV <=>\n")
			require.Equal(t, next, answer(), "what follows the announced 100 bytes")
		})
	}
}
