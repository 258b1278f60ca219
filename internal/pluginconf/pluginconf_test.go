package pluginconf

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/tentaclesync/tentaclesync/plugins/inputs/tentaclesync"
)

func TestExpandString(t *testing.T) {
	t.Setenv("PLUGINCONF_A", "x$y")
	t.Setenv("PLUGINCONF_EMPTY", "")
	for _, tc := range []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "pa$sword", want: "pa$sword"},
		{in: "pa$$word", want: "pa$$word"},
		{in: `pa\$sword`, want: `pa\$sword`},
		{in: "cost$5!", want: "cost$5!"},
		{in: "$", want: "$"},
		{in: "$PLUGINCONF_A", want: "$PLUGINCONF_A"},
		{in: "${PLUGINCONF_A}", want: "x$y"},
		{in: "<${PLUGINCONF_A}${PLUGINCONF_A}>", want: "<x$yx$y>"},
		{in: "${PLUGINCONF_EMPTY}", want: ""},
		{in: "$${PLUGINCONF_A}", want: "${PLUGINCONF_A}"},
		{in: "$$${PLUGINCONF_A}", want: "$${PLUGINCONF_A}"},
		{in: "$${", want: "${"},
		{in: "${PLUGINCONF_UNSET}", err: "environment variable PLUGINCONF_UNSET is not set"},
		{in: "${", err: "does not start a ${NAME}"},
		{in: "${}", err: "does not start a ${NAME}"},
		{in: "${1A}", err: "does not start a ${NAME}"},
		{in: "${A B}", err: "does not start a ${NAME}"},
	} {
		got, err := ExpandString(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestNearest(t *testing.T) {
	known := []string{"transfer", "min_free_space", "timeout", "tls_ca", "retries"}
	for in, want := range map[string]string{
		"tranfer":       "transfer",
		"min_free_spce": "min_free_space",
		"Timeout":       "timeout",
		"timeuot":       "timeout",
		"tls":           "",
		"colour":        "",
		"retry":         "",
	} {
		require.Equal(t, want, nearest(in, known), in)
	}
}

// Every key of the sample configuration, uncommented, is one the loader
// takes.
func TestSampleConfigLoads(t *testing.T) {
	sample, err := os.ReadFile("../../sample.conf")
	require.NoError(t, err)
	var lines []string
	for line := range strings.Lines(string(sample)) {
		if strings.HasPrefix(line, "  # ") && strings.Contains(line, " = ") {
			line = "  " + strings.TrimPrefix(line, "  # ")
		}
		lines = append(lines, line)
	}
	input, err := Parse([]byte(strings.Join(lines, "")), "tentaclesync")
	require.NoError(t, err)
	require.NotNil(t, input)
}
