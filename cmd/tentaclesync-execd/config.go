package main

import (
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/tentaclesync/tentaclesync/internal/pluginconf"
)

// loadConfig loads the plugin file strictly (see pluginconf) in place of
// the shim's LoadConfig, and adds its input, which initialises it.
func loadConfig(s *shim.Shim, path string) error {
	input, err := pluginconf.Load(path, "tentaclesync")
	if err != nil {
		return err
	}
	return s.AddInput(input)
}
