//go:build integration

package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// grafanaDashboard is the part of dashboards/tentaclesync.json the test
// runs: each panel's queries and the value mappings that name result codes.
type grafanaDashboard struct {
	Panels []struct {
		Title       string `json:"title"`
		FieldConfig struct {
			Defaults struct {
				Mappings []struct {
					Type    string `json:"type"`
					Options map[string]struct {
						Text string `json:"text"`
					} `json:"options"`
				} `json:"mappings"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			RefID string `json:"refId"`
			Query string `json:"query"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func loadGrafanaDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile("../dashboards/tentaclesync.json")
	require.NoError(t, err)
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal(data, &d))
	return d
}

// grafanaVars are the values Grafana puts in a query: the time range as
// $timeFilter has it for an absolute range or for one relative to now, an
// interval of 1 s (each gather,
// 2 s apart, in its own bucket), and the server variable as Grafana's
// InfluxDB data source expands a multi-value one: each value regex-escaped,
// several joined as (a|b), inside the query's /^$server$/.
type grafanaVars struct {
	from, to time.Time
	last     string // a relative range up to now, as "1h"; from and to when ""
	servers  []string
}

func (v grafanaVars) interpolate(q string) string {
	escaped := make([]string, len(v.servers))
	for i, s := range v.servers {
		escaped[i] = grafanaRegexEscape(s)
	}
	server := escaped[0]
	if len(escaped) > 1 {
		server = "(" + strings.Join(escaped, "|") + ")"
	}
	timeFilter := fmt.Sprintf("time >= %dms and time <= %dms", v.from.UnixMilli(), v.to.UnixMilli())
	if v.last != "" {
		timeFilter = "time >= now() - " + v.last
	}
	return strings.NewReplacer(
		"$timeFilter", timeFilter,
		"$__interval", "1s",
		"$interval", "1s",
		"$server", server,
	).Replace(q)
}

// grafanaRegexEscape is Grafana's escapeRegex: a backslash before each of
// \ ^ $ * + ? . ( ) | [ ] { } /.
func grafanaRegexEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\^$*+?.()|[]{}/`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// requireGrafanaDashboard runs every query of the Grafana dashboard as
// Grafana would, with all sites and with north alone, and checks that each
// panel shows what it is meant to: north's files and bytes, its backlog
// going down to 0, south in auth_failed and nowhere else, sync times,
// no file failed or was lost, central.conf pushed to north and
// first-contact.conf pulled from it, nothing for south.
func requireGrafanaDashboard(t *testing.T, db *influxDB, north, south *site, from time.Time) {
	t.Helper()
	d := loadGrafanaDashboard(t)

	// The server variable's own query offers both sites.
	require.Len(t, d.Templating.List, 1)
	require.Equal(t, "server", d.Templating.List[0].Name)
	var servers []string
	for _, s := range db.query(t, d.Templating.List[0].Query).Series {
		i := columnIndex(t, s.Columns, "value")
		for _, row := range s.Values {
			servers = append(servers, row[i].(string))
		}
	}
	require.ElementsMatch(t, []string{north.addr, south.addr}, servers, "the server variable's values")

	all := grafanaVars{from: from.Add(-time.Minute), to: time.Now().Add(time.Minute), servers: servers}
	only := all
	only.servers = []string{north.addr}
	relative := all
	relative.last = "1h"

	var northBytes int
	for _, data := range north.files {
		northBytes += len(data)
	}

	// run asks panel's target refID with all sites, checks that north alone
	// gives north's series only and that the range relative to now gives
	// the same sites, and returns the answer for all sites.
	run := func(panel, refID string) answer {
		t.Helper()
		for _, p := range d.Panels {
			if p.Title != panel {
				continue
			}
			for _, tg := range p.Targets {
				if tg.RefID != refID {
					continue
				}
				a := db.query(t, all.interpolate(tg.Query))
				require.NotEmpty(t, a.Series, "%s %s: %s", panel, refID, all.interpolate(tg.Query))
				n := db.query(t, only.interpolate(tg.Query))
				require.Subset(t, []string{north.addr}, n.servers(),
					"%s %s with north picked: %s", panel, refID, only.interpolate(tg.Query))
				r := db.query(t, relative.interpolate(tg.Query))
				require.ElementsMatch(t, a.servers(), r.servers(), "%s %s: %s", panel, refID, relative.interpolate(tg.Query))
				return a
			}
		}
		t.Fatalf("the dashboard has no panel %q with a target %s", panel, refID)
		return answer{}
	}
	asked := map[string]bool{}
	ask := func(panel, refID string) answer {
		t.Helper()
		asked[panel+" "+refID] = true
		return run(panel, refID)
	}
	mapping := func(panel string, code float64) string {
		t.Helper()
		for _, p := range d.Panels {
			if p.Title == panel {
				for _, m := range p.FieldConfig.Defaults.Mappings {
					if o, ok := m.Options[fmt.Sprint(code)]; ok && m.Type == "value" {
						return o.Text
					}
				}
			}
		}
		t.Fatalf("%s maps no %v", panel, code)
		return ""
	}

	files := ask("Files received per site", "A")
	require.Equal(t, float64(len(north.files)), files.sum(t, north.addr, "sum"))
	require.Equal(t, 0.0, files.sum(t, south.addr, "sum"))
	require.Contains(t, files.servers(), south.addr)

	bytes := ask("Bytes received per site", "A")
	require.Equal(t, float64(northBytes), bytes.sum(t, north.addr, "sum"), "every byte seeded on north")
	require.Equal(t, 0.0, bytes.sum(t, south.addr, "sum"))

	backlog := ask("Backlog per site", "A")
	northBacklog := backlog.values(t, north.addr, "last")
	require.NotEmpty(t, northBacklog)
	require.Positive(t, northBacklog[0], "north's first gathers left files for later")
	require.Equal(t, 0.0, northBacklog[len(northBacklog)-1], "north's backlog ends at 0")
	require.NotEmpty(t, backlog.values(t, south.addr, "last"))

	now := ask("Backlog now", "A")
	require.Equal(t, 0.0, now.column(t, north.addr, "last"))
	require.Contains(t, now.servers(), south.addr)

	result := ask("Result per site", "A")
	southResults := result.values(t, south.addr, "last")
	require.NotEmpty(t, southResults)
	for _, code := range southResults {
		require.Equal(t, "auth_failed", mapping("Result per site", code), "south's gathers")
	}
	northResults := result.values(t, north.addr, "last")
	require.NotEmpty(t, northResults)
	require.Equal(t, "success", mapping("Result per site", northResults[len(northResults)-1]), "north's last gather")

	inError := ask("Sites in error", "A")
	require.Equal(t, []string{south.addr}, inError.servers())
	require.Equal(t, "auth_failed", inError.column(t, south.addr, "result"))
	require.Equal(t, "auth_failed", mapping("Sites in error", inError.column(t, south.addr, "result_code").(float64)))

	syncTime := ask("Sync time per site", "A")
	for _, server := range servers {
		times := syncTime.values(t, server, "max")
		require.NotEmpty(t, times, "sync times of %s", server)
		for _, s := range times {
			require.True(t, s > 0 && s < 10, "%s: a sync time of %v s, with a timeout of 5 s", server, s)
		}
	}

	failedGathers := ask("Failures and losses", "A")
	require.Equal(t, 0.0, failedGathers.sum(t, north.addr, "failed gathers"), "north's gathers all succeed")
	require.Positive(t, failedGathers.sum(t, south.addr, "failed gathers"), "south's gathers fail")
	losses := ask("Failures and losses", "B")
	for _, server := range servers {
		for _, column := range []string{"files failed", "files skipped", "files deferred"} {
			require.Equal(t, 0.0, losses.sum(t, server, column), "%s of %s", column, server)
		}
	}

	config := ask("Configuration pushes", "A")
	configBytes := ask("Configuration pushes", "B")
	for column, want := range map[string]float64{"sent": 1, "received": 1, "removed": 0, "failed": 0} {
		require.Equal(t, want, config.sum(t, north.addr, column), "configuration files %s on north", column)
		require.Equal(t, 0.0, config.sum(t, south.addr, column), "configuration files %s on south", column)
	}
	require.Equal(t, float64(len(centralConfData)), configBytes.sum(t, north.addr, "bytes sent"), "central.conf's bytes")
	require.Equal(t, 0.0, configBytes.sum(t, south.addr, "bytes sent"))
	require.Contains(t, configBytes.servers(), south.addr)

	// Every query of the dashboard was asked.
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			require.True(t, asked[p.Title+" "+tg.RefID], "the test does not ask %s %s", p.Title, tg.RefID)
		}
	}
}

// values are a numeric column's non-null values in server's series, in time
// order.
func (a answer) values(t *testing.T, server, column string) []float64 {
	t.Helper()
	var values []float64
	for _, s := range a.Series {
		if s.Tags["server"] != server {
			continue
		}
		i := columnIndex(t, s.Columns, column)
		for _, row := range s.Values {
			if row[i] == nil {
				continue
			}
			v, ok := row[i].(float64)
			require.True(t, ok, "%s of %s: %v", column, server, row)
			values = append(values, v)
		}
	}
	return values
}
