// Package once runs a shim's input for a single gather, the way the execd
// shim would, and writes the metrics as line protocol.
package once

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
)

// Gather gathers once through the same accumulator and serializer the shim
// uses and writes line protocol to w. ok is true when at least one metric
// came, every metric's result tag is "success", no file failed and the
// plugin reported no error.
func Gather(s *shim.Shim, w io.Writer) (ok bool, err error) {
	if s.Input == nil {
		return false, errors.New("the configuration holds no input plugin")
	}
	var serializer influx.Serializer
	if err := serializer.Init(); err != nil {
		return false, err
	}
	metrics := make(chan telegraf.Metric, 64)
	acc := &errorCounter{Accumulator: agent.NewAccumulator(s, metrics)}
	acc.SetPrecision(time.Nanosecond)
	gathered := make(chan error, 1)
	go func() {
		gathered <- s.Input.Gather(acc)
		close(metrics)
	}()

	ok = true
	seen := false
	for m := range metrics {
		seen = true
		if result, _ := m.GetTag("result"); result != "success" {
			ok = false
		}
		if failed, _ := m.GetField("files_failed"); failed != nil && failed != int64(0) {
			ok = false
		}
		line, serr := serializer.Serialize(m)
		if serr == nil {
			_, serr = w.Write(line)
		}
		if serr != nil && err == nil {
			err = fmt.Errorf("writing metric: %w", serr)
		}
	}
	if gerr := <-gathered; gerr != nil {
		return false, fmt.Errorf("gather: %w", gerr)
	}
	return ok && seen && acc.errors.Load() == 0 && err == nil, err
}

// errorCounter passes everything on and counts the errors.
type errorCounter struct {
	telegraf.Accumulator
	errors atomic.Int64
}

func (a *errorCounter) AddError(err error) {
	a.errors.Add(1)
	a.Accumulator.AddError(err)
}
