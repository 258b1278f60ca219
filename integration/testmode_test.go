//go:build integration

package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/testcerts"
)

// What the README says of Telegraf's own checks with the execd entry:
// `telegraf --test` ends before the execd child has answered, so it needs
// `--test-wait`; that test is a real sync (it moves files); and
// `telegraf config check` does not start execd commands, so it passes a
// broken plugin file.
func TestTelegrafTestModeAndConfigCheck(t *testing.T) {
	telegraf := requireTool(t, "TELEGRAF")
	dir := t.TempDir()
	bin := buildBinaries(t, dir)
	certs, err := testcerts.Write(dir, "site")
	require.NoError(t, err)
	site := startSite(t, bin, filepath.Join(dir, "site"), certs, password)
	site.seed(t, "site", 3)
	spool := filepath.Join(dir, "data_in")
	require.NoError(t, os.Mkdir(spool, 0o755))
	pluginConf := filepath.Join(dir, "tentaclesync.conf")
	require.NoError(t, os.WriteFile(pluginConf, fmt.Appendf(nil, `[[inputs.tentaclesync]]
  servers = [%q]
  spool_dir = %q
  password = %q
  tls_ca = %q
  tls_cert = %q
  tls_key = %q
  timeout = "5s"
  state_dir = %q
`, site.addr, spool, password, certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile, filepath.Join(dir, "state")), 0o600))
	entry := readmeBlock(t, "```toml @telegraf.conf\n")
	entry = strings.Replace(entry, `"/usr/local/bin/tentaclesync-execd"`, fmt.Sprintf("%q", filepath.Join(bin, "tentaclesync-execd")), 1)
	entry = strings.Replace(entry, `"/etc/telegraf/tentaclesync.conf"`, fmt.Sprintf("%q", pluginConf), 1)
	telegrafConf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(telegrafConf, []byte(entry), 0o600))

	run := func(args ...string) (string, error) {
		out, err := exec.Command(telegraf, append([]string{"--config", telegrafConf}, args...)...).Output()
		return string(out), err
	}

	out, _ := run("--test")
	require.NotContains(t, out, "tentaclesync,", "without --test-wait, Telegraf stops before the child answers")
	require.Len(t, listNames(t, spool), 0)

	out, err = run("--test", "--test-wait", "15")
	require.NoError(t, err)
	require.Contains(t, out, "tentaclesync,")
	require.Contains(t, out, "result=success")
	require.Contains(t, out, "files_received=3i")
	requireSpoolHoldsExactly(t, spool, site.files)

	require.NoError(t, os.WriteFile(pluginConf, []byte("this is [[[ not TOML\n"), 0o600))
	_, err = exec.Command(telegraf, "config", "check", "--config", telegrafConf).CombinedOutput()
	require.NoError(t, err, "config check does not read the plugin file of an execd entry")
}

// listNames names the regular files in dir.
func listNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names
}
