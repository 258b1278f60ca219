package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The plugin file is read strictly: each mistake stops the start, naming
// the key.
func TestStrictConfigRefused(t *testing.T) {
	dir := t.TempDir()
	base := map[string]string{
		"servers":   `["127.0.0.1:1"]`,
		"spool_dir": fmt.Sprintf("%q", dir),
		"state_dir": fmt.Sprintf("%q", filepath.Join(dir, "state")),
	}
	for _, tc := range []struct {
		name  string
		set   map[string]string // keys of the table, over base
		extra string            // after the table
		want  []string
		not   []string
	}{
		{name: "misspelled transfer", set: map[string]string{"tranfer": `"verified"`},
			want: []string{`unknown key "tranfer" (did you mean "transfer"?)`}},
		{name: "misspelled min_free_space", set: map[string]string{"min_free_spce": `"20%"`},
			want: []string{`unknown key "min_free_spce" (did you mean "min_free_space"?)`}},
		{name: "every unknown key", set: map[string]string{"tranfer": `"verified"`, "colour": `"red"`},
			want: []string{`unknown key "tranfer"`, `unknown key "colour"`}, not: []string{`"colour" (did you mean`}},
		{name: "a second table", extra: "\n[[inputs.tentaclesync]]\n  servers = [\"127.0.0.1:2\"]\n",
			want: []string{"2 [[inputs.tentaclesync]] tables"}},
		{name: "another input", extra: "\n[[inputs.cpu]]\n",
			want: []string{`input "cpu" is not allowed`}},
		{name: "an output", extra: "\n[[outputs.file]]\n",
			want: []string{`section "outputs" is not allowed`}},
		{name: "a secret store section", extra: "\n[[secretstores.jose]]\n  id = \"s\"\n",
			want: []string{`section "secretstores" is not allowed`}},
		{name: "a secret-store password", set: map[string]string{"password": `"@{s:pw}"`},
			want: []string{"password: secret-store references (@{s:pw}) are not supported"}},
		{name: "relative spool_dir", set: map[string]string{"spool_dir": `"data_in"`},
			want: []string{`spool_dir: must be an absolute path, got "data_in"`}},
		{name: "relative state_dir", set: map[string]string{"state_dir": `"state"`},
			want: []string{`state_dir: must be an absolute path, got "state"`}},
		{name: "huge timeout", set: map[string]string{"timeout": `"1000000h"`},
			want: []string{"timeout: must be positive and at most 1h0m0s, got 1000000h0m0s"}},
		{name: "too many retries", set: map[string]string{"retries": "11"},
			want: []string{"retries: must be between 0 and 10, got 11"}},
		{name: "huge min_file_age", set: map[string]string{"min_file_age": `"25h"`},
			want: []string{"min_file_age: must be between 0s and 24h0m0s, got 25h0m0s"}},
		{name: "huge max_files_per_gather", set: map[string]string{"max_files_per_gather": "1000001"},
			want: []string{"max_files_per_gather: must be between 0 (no bound) and 1000000, got 1000001"}},
		{name: "huge max_file_size", set: map[string]string{"max_file_size": `"2TiB"`},
			want: []string{"max_file_size: must be positive and at most 1TiB"}},
		{name: "bad duration", set: map[string]string{"timeout": `"soon"`},
			want: []string{"timeout: "}},
		{name: "unset variable", set: map[string]string{"password": `"${TENTACLESYNC_TEST_UNSET}"`},
			want: []string{"password: environment variable TENTACLESYNC_TEST_UNSET is not set"}},
		{name: "not a variable", set: map[string]string{"password": `"a${b c}d"`},
			want: []string{"password: a ${ that does not start a ${NAME}"}, not: []string{"b c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := maps.Clone(base)
			maps.Copy(table, tc.set)
			var body strings.Builder
			for _, key := range slices.Sorted(maps.Keys(table)) {
				fmt.Fprintf(&body, "\n  %s = %s", key, table[key])
			}
			config := filepath.Join(t.TempDir(), "tentaclesync.conf")
			writeConfig(t, config, body.String()+"\n"+tc.extra)
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(execd(t), "-config", config, "-once")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "%v: %s", err, stderr.String())
			require.Equal(t, 1, exit.ExitCode())
			require.Empty(t, stdout.String(), "nothing is gathered")
			for _, want := range tc.want {
				require.Contains(t, stderr.String(), want)
			}
			for _, not := range tc.not {
				require.NotContains(t, stderr.String(), not)
			}
		})
	}
}

// A password is taken as written: only ${NAME} is expanded, and $${ is a
// literal ${.
func TestPasswordsAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name, toml, password string
		env                  map[string]string
	}{
		{name: "dollar", toml: `'pa$sword'`, password: `pa$sword`},
		{name: "two dollars", toml: `'pa$$word'`, password: `pa$$word`},
		{name: "escaped dollar", toml: `"pa\\$sword"`, password: `pa\$sword`},
		{name: "dollar digit", toml: `'cost$5!'`, password: `cost$5!`},
		{name: "from the environment", toml: `"${TENTACLESYNC_TEST_PASSWORD}"`, password: `s3cr$t "q" \ ${HOME}`,
			env: map[string]string{"TENTACLESYNC_TEST_PASSWORD": `s3cr$t "q" \ ${HOME}`}},
		{name: "in part from the environment", toml: `"a-${TENTACLESYNC_TEST_PASSWORD}-z"`, password: `a-mid-z`,
			env: map[string]string{"TENTACLESYNC_TEST_PASSWORD": `mid`}},
		{name: "escaped dollar brace", toml: `'lit$${HOME}'`, password: `lit${HOME}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			s := newSiteWithPassword(t, tc.password, tc.toml)
			s.seed(t, "site", 100)
			metric, log := runOnce(t, s.config)
			requireSync(t, metric, s.addr, "success", 1)
			s.requireSpoolHoldsExactly(t)
			require.NotContains(t, log, tc.password)
		})
	}
}
