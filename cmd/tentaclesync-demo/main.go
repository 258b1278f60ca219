// Command tentaclesync-demo shows the main job without a Pandora FMS install:
// it starts a Go Tentacle server on loopback the way an isolated network runs
// it (TLS with client certificates, a password, -I -o and Pandora's filters),
// seeds it with agent data files and a first-contact agent configuration,
// puts a console-made collection in the central spool, syncs once through the
// same configuration loader and shim as tentaclesync-execd, and prints the
// metrics and the files on both sides.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/tentaclesync/tentaclesync/internal/once"
	"github.com/tentaclesync/tentaclesync/internal/pluginconf"
	"github.com/tentaclesync/tentaclesync/internal/testcerts"
	_ "github.com/tentaclesync/tentaclesync/plugins/inputs/tentaclesync"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

const password = "demo-password"

func main() {
	work := flag.String("dir", "", "working directory for the demo (default: a new temporary directory)")
	agents := flag.Int("agents", 5, "agents whose data files are waiting on the remote server")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*work, *agents); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

func run(work string, agents int) error {
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "tentaclesync-demo-"); err != nil {
			return err
		}
	}
	remote, spoolDir, stateDir := filepath.Join(work, "remote"), filepath.Join(work, "data_in"), filepath.Join(work, "state")
	for _, dir := range []string{remote, spoolDir, filepath.Join(remote, "conf"), filepath.Join(remote, "md5"), filepath.Join(remote, "collections")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	certs, err := testcerts.Write(work, "demo")
	if err != nil {
		return err
	}
	if err := seed(remote, agents); err != nil {
		return err
	}
	if err := seedConsole(spoolDir); err != nil {
		return err
	}
	filters, err := server.ParseFilters(server.PandoraFilters)
	if err != nil {
		return err
	}
	srv, err := server.Start("127.0.0.1:0", server.Config{
		Dir: remote, Password: password, TLSConfig: certs.ServerConfig(true),
		Insecure: true, Overwrite: true, Filters: filters,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("Remote Tentacle server on %s (TLS with client certificates, password, -I -o, Pandora filters)\n", srv.Addr())
	fmt.Printf("waiting there: %s\n", strings.Join(listFiles(remote), ", "))
	fmt.Printf("made by the console in %s: %s\n\n", spoolDir, strings.Join(listFiles(spoolDir), ", "))

	configFile := filepath.Join(work, "tentaclesync.conf")
	if err := os.WriteFile(configFile, []byte(config(srv.Addr(), spoolDir, stateDir, certs)), 0o600); err != nil {
		return err
	}
	s := shim.New()
	if err := pluginconf.Into(s, configFile, "tentaclesync"); err != nil {
		return err
	}
	fmt.Printf("Metrics of one gather (line protocol), config %s:\n", configFile)
	ok, err := once.Gather(s, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("\nFiles in %s:\n", spoolDir)
	for _, name := range listFiles(spoolDir) {
		info, err := os.Stat(filepath.Join(spoolDir, name))
		if err != nil {
			return err
		}
		fmt.Printf("  %-34s %5d bytes\n", name, info.Size())
	}
	fmt.Printf("\nLeft on the remote server: %s\n", strings.Join(listFiles(remote), ", "))
	if !ok {
		return fmt.Errorf("the sync did not succeed")
	}
	return nil
}

// seed writes two data files per agent, an upload still in progress (empty)
// and a first-contact agent configuration with its md5 file, which the data
// pull leaves alone and the configuration sync copies in.
func seed(remote string, agents int) error {
	now := time.Now()
	for a := 1; a <= agents; a++ {
		for n := range 2 {
			name := fmt.Sprintf("site-host%02d.%d.data", a, 1000+n)
			ts := now.Add(time.Duration(n-2) * 5 * time.Minute).Format("2006/01/02 15:04:05")
			if err := os.WriteFile(filepath.Join(remote, name), agentXML(a, ts), 0o644); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(remote, "site-host99.1.data"), nil, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(remote, "conf", "e3b0c44298fc1c14.conf"), []byte("agent_name site-host01\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(remote, "md5", "e3b0c44298fc1c14.md5"), []byte("9b2c8f1a07d5e6c3a4b1f0e9d8c7b6a5"), 0o644)
}

// seedConsole writes what the central console makes for the agents: a
// collection and its md5 file, which the configuration sync pushes.
func seedConsole(spoolDir string) error {
	for rel, data := range map[string]string{
		"collections/fc_1.zip": "PK\x05\x06" + strings.Repeat("\x00", 18),
		"md5/fc_1.md5":         "76cdb2bad9582d23c1f6f4d868218d6c",
	} {
		path := filepath.Join(spoolDir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func agentXML(agent int, timestamp string) []byte {
	return fmt.Appendf(nil, `<?xml version='1.0' encoding='UTF-8'?>
<agent_data description='' group='Isolated' os_name='Linux' os_version='Debian 12' interval='300' version='7.0NG' timestamp='%s' agent_name='site-host%02d' timezone_offset='0'>
  <module>
    <name><![CDATA[cpu_user]]></name>
    <type><![CDATA[generic_data]]></type>
    <data><![CDATA[%d]]></data>
  </module>
  <module>
    <name><![CDATA[disk_root_free]]></name>
    <type><![CDATA[generic_data]]></type>
    <data><![CDATA[%d]]></data>
  </module>
</agent_data>
`, timestamp, agent, 10+agent*3, 90-agent*4)
}

func config(addr, spoolDir, stateDir string, certs *testcerts.Set) string {
	return fmt.Sprintf(`[[inputs.tentaclesync]]
  servers = [%q]
  spool_dir = %q
  state_dir = %q
  password = %q
  tls_ca = %q
  tls_cert = %q
  tls_key = %q
  timeout = "5s"
  connections = 4
`, addr, spoolDir, stateDir, password, certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile)
}

// listFiles names the regular files below dir, sorted, relative to it,
// leaving out the locks of the pulls.
func listFiles(dir string) []string {
	var names []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == spool.PullLockDir {
			return filepath.SkipDir
		}
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return nil
	})
	slices.Sort(names)
	return names
}
