package main

import (
	"runtime/debug"

	"github.com/influxdata/telegraf/logger"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version string

// versionString is the stamped version, else the module's version for a go
// install build, else "devel".
func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

// setUpLogging logs to stderr, debug messages too with -debug.
func setUpLogging(debug bool) {
	if debug {
		if err := logger.SetupLogging(&logger.Config{Debug: true}); err != nil {
			fail("setting up logging: %v", err)
		}
	}
}
