// Command tentaclesync-execd runs the tentaclesync input under Telegraf's
// [[inputs.execd]] through the execd shim: it gathers when Telegraf writes a
// line to its stdin (signal = "STDIN") or every -poll_interval, writes line
// protocol to stdout and logs to stderr.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/tentaclesync/tentaclesync/internal/once"
	_ "github.com/tentaclesync/tentaclesync/plugins/inputs/tentaclesync"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file")
	pollInterval := flag.Duration("poll_interval", time.Minute, "how often to gather")
	pollDisabled := flag.Bool("poll_interval_disabled", false,
		`gather only when a line arrives on stdin (Telegraf's signal = "STDIN")`)
	gatherOnce := flag.Bool("once", false,
		"gather once, print line protocol and exit: 0 when every server succeeded, 1 otherwise")
	flag.Parse()

	s := shim.New()
	if err := s.LoadConfig(configFile); err != nil {
		fail("loading configuration %q: %v", *configFile, err)
	}
	if *gatherOnce {
		ok, err := once.Gather(s, os.Stdout)
		if err != nil {
			fail("%v", err)
		}
		if !ok {
			os.Exit(1)
		}
		return
	}
	if *pollDisabled {
		*pollInterval = shim.PollIntervalDisabled
	}
	if err := s.Run(*pollInterval); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tentaclesync: "+format+"\n", args...)
	os.Exit(1)
}
