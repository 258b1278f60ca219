// Command tentaclesync-execd runs the tentaclesync input under Telegraf's
// [[inputs.execd]] through the execd shim: it gathers when Telegraf writes a
// line to its stdin (signal = "STDIN") or every -poll_interval, writes line
// protocol to stdout and logs to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/tentaclesync/tentaclesync/internal/once"
	"github.com/tentaclesync/tentaclesync/internal/pluginconf"
	"github.com/tentaclesync/tentaclesync/plugins/inputs/tentaclesync"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file")
	pollInterval := flag.Duration("poll_interval", time.Minute, "how often to gather")
	pollDisabled := flag.Bool("poll_interval_disabled", false,
		`gather only when a line arrives on stdin (Telegraf's signal = "STDIN")`)
	gatherOnce := flag.Bool("once", false,
		"gather once, print line protocol and exit: 0 when every server succeeded, 1 otherwise")
	debug := flag.Bool("debug", false, "log debug messages too")
	showVersion := flag.Bool("version", false, "print the version and exit")
	check := flag.Bool("check", false,
		"connect to every server and print what a gather would do, moving, sending and writing nothing; exit 0 when every server is reachable and usable, 1 otherwise")
	flag.Parse()
	if *showVersion {
		fmt.Println("tentaclesync-execd", versionString())
		return
	}
	setUpLogging(*debug)
	if *check {
		if *gatherOnce {
			fail("-check and -once: use one of them")
		}
		tentaclesync.PrepareCheck()
	}

	// -once and -check read no stdin, so only a signal ends them early.
	ending := watchForEnd(!*gatherOnce && !*check)
	s := shim.New()
	if err := pluginconf.Into(s, *configFile, "tentaclesync"); err != nil {
		fail("loading configuration %q: %v", *configFile, err)
	}
	if stopper, ok := s.Input.(interface{ Stop() }); ok {
		go func() {
			<-ending
			stopper.Stop()
		}()
	}
	if *check {
		input, ok := s.Input.(*tentaclesync.TentacleSync)
		if !ok {
			fail("-check: the configuration holds no [[inputs.tentaclesync]]")
		}
		if !input.Check(context.Background(), os.Stdout) {
			os.Exit(1)
		}
		return
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

// watchForEnd returns a channel closed when the process is told to end:
// SIGINT, SIGTERM, or stdin closing, which is how Telegraf ends an execd
// input with signal = "STDIN". The shim notices the same events, but acts
// on them only once the running Gather returns, and a Gather can take long.
// Stdin is relayed through a pipe, so the shim, created after this, still
// reads every line and sees the close.
func watchForEnd(stdinToo bool) <-chan struct{} {
	end := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	stdinClosed := make(chan struct{})
	if stdinToo {
		r, w, err := os.Pipe()
		if err != nil {
			fail("relaying stdin: %v", err)
		}
		stdin := os.Stdin
		os.Stdin = r
		go func() {
			_, _ = io.Copy(w, stdin)
			w.Close()
			close(stdinClosed)
		}()
	}
	go func() {
		select {
		case <-signals:
			// A second signal should end the process the default way
			// (in -once, where no shim handler is installed).
			signal.Stop(signals)
		case <-stdinClosed:
		}
		close(end)
	}()
	return end
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tentaclesync: "+format+"\n", args...)
	os.Exit(1)
}
