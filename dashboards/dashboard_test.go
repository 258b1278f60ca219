package dashboards_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dashboard is the part of Grafana's dashboard model these tests read.
type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	SchemaVersion int    `json:"schemaVersion"`
	UID           string `json:"uid"`
	Title         string `json:"title"`
	Panels        []struct {
		ID         int        `json:"id"`
		Type       string     `json:"type"`
		Title      string     `json:"title"`
		Datasource datasource `json:"datasource"`
		GridPos    struct{ X, Y, W, H int }
		Targets    []struct {
			Datasource   datasource `json:"datasource"`
			RefID        string     `json:"refId"`
			RawQuery     bool       `json:"rawQuery"`
			Query        string     `json:"query"`
			ResultFormat string     `json:"resultFormat"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name, Type, Query string
			Datasource        datasource
			Multi, IncludeAll bool
		}
	}
}

type datasource struct{ Type, UID string }

const ds = "${DS_INFLUXDB}"

func load(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("tentaclesync.json")
	require.NoError(t, err)
	require.True(t, json.Valid(data), "tentaclesync.json is not valid JSON")
	var d dashboard
	require.NoError(t, json.Unmarshal(data, &d))
	return d
}

func TestDashboardModel(t *testing.T) {
	d := load(t)
	require.NotZero(t, d.SchemaVersion)
	require.Equal(t, "tentaclesync", d.UID)
	require.NotEmpty(t, d.Title)
	require.Len(t, d.Inputs, 1, "one data source input, as Grafana exports it")
	require.Equal(t, "DS_INFLUXDB", d.Inputs[0].Name)
	require.Equal(t, "datasource", d.Inputs[0].Type)
	require.Equal(t, "influxdb", d.Inputs[0].PluginID)

	require.Len(t, d.Templating.List, 1)
	v := d.Templating.List[0]
	require.Equal(t, "server", v.Name)
	require.Equal(t, "query", v.Type)
	require.Equal(t, `SHOW TAG VALUES FROM "tentaclesync" WITH KEY = "server"`, v.Query)
	require.Equal(t, datasource{"influxdb", ds}, v.Datasource)
	require.True(t, v.Multi, "several sites can be picked")
	require.True(t, v.IncludeAll, "all sites can be picked")

	require.NotEmpty(t, d.Panels)
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Title)
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.Equal(t, datasource{"influxdb", ds}, p.Datasource, p.Title)
		g := p.GridPos
		require.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.Y >= 0 && g.X+g.W <= 24, "%s: gridPos %+v", p.Title, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				require.Empty(t, taken[cell{x, y}], "%s overlaps another panel", p.Title)
				taken[cell{x, y}] = p.Title
			}
		}
		require.NotEmpty(t, p.Targets, p.Title)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			require.False(t, refs[tg.RefID], "%s: refId %s twice", p.Title, tg.RefID)
			refs[tg.RefID] = true
			require.Equal(t, datasource{"influxdb", ds}, tg.Datasource, p.Title)
			require.True(t, tg.RawQuery, "%s: the query is InfluxQL text", p.Title)
			require.Contains(t, []string{"time_series", "table"}, tg.ResultFormat, p.Title)
			require.Contains(t, tg.Query, `FROM "tentaclesync"`, p.Title)
			require.Contains(t, tg.Query, "$timeFilter", p.Title)
			require.Contains(t, tg.Query, `("server" =~ /^$server$/)`, "%s: the server variable picks the sites", p.Title)
			require.NotContains(t, tg.Query, "now()", "%s: Grafana's time range, not a fixed one", p.Title)
		}
	}
}

// TestDashboardShowsEveryField: each field of README's "Metrics" is in some
// panel's query.
func TestDashboardShowsEveryField(t *testing.T) {
	d := load(t)
	_, metrics, ok := strings.Cut(readme(t), "\n## Metrics\n")
	require.True(t, ok)
	_, fields, ok := strings.Cut(metrics, "\n  - fields:\n")
	require.True(t, ok)
	fields, _, _ = strings.Cut(fields, "\n\n")
	names := regexp.MustCompile(`(?m)^    - (\w+) \(`).FindAllStringSubmatch(fields, -1)
	// Thirteen when the dashboard was made; a field added since must be
	// shown too.
	require.GreaterOrEqual(t, len(names), 13, "the README's fields")
	for _, name := range names {
		shown := false
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				shown = shown || strings.Contains(tg.Query, `"`+name[1]+`"`)
			}
		}
		require.True(t, shown, "no panel shows %s", name[1])
	}
}

// TestDashboardHasTheREADMEQueries: the README's queries are panels, with
// the dashboard's time range, interval and sites in place of their fixed
// ones.
func TestDashboardHasTheREADMEQueries(t *testing.T) {
	d := load(t)
	_, block, ok := strings.Cut(readme(t), "```sql @dashboards\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```\n")
	require.True(t, ok)
	since := regexp.MustCompile(`time > now\(\) - \w+`)
	n := 0
	for line := range strings.Lines(block) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-- ") {
			continue
		}
		n++
		require.Equal(t, 1, len(since.FindAllString(line, -1)), "%s: one time condition", line)
		want := since.ReplaceAllLiteralString(line, `("server" =~ /^$server$/) AND $timeFilter`)
		want = strings.ReplaceAll(want, "GROUP BY time(1h)", "GROUP BY time($__interval)")
		found := false
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				found = found || tg.Query == want
			}
		}
		require.True(t, found, "no panel has the README's %s as\n%s", line, want)
	}
	require.Equal(t, 3, n)
}

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	return string(data)
}
