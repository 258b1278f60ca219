// Package pluginconf loads tentaclesync-execd's plugin file strictly, in
// place of the execd shim's loader, which expands every $NAME over the whole
// file before parsing it (so a password holding a $ cannot be written),
// keeps only the first table it finds and ignores keys it does not know.
//
// The rules:
//
//   - The file holds exactly one [[inputs.<name>]] table, for the one input
//     asked for, and nothing else: no other table, no top-level key.
//   - Every key of that table must be one the input knows; an unknown key is
//     refused, naming it and, when a known key is close to it, that key.
//   - In string values (not in keys or comments) ${NAME} is replaced by the
//     environment variable NAME, which must be set (it may be empty); $${ is
//     a literal ${. Every other $ is literal. NAME is a letter or _, then
//     letters, digits or _; a ${ not followed by a NAME and } is refused.
package pluginconf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/inputs"
)

// Load reads the plugin file at path and returns the input named name,
// configured from it but not yet initialised.
func Load(path, name string) (telegraf.Input, error) {
	if path == "" {
		return nil, errors.New("no plugin file given (-config)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, name)
}

// Parse is Load on the file's contents.
func Parse(data []byte, name string) (telegraf.Input, error) {
	creator, ok := inputs.Inputs[name]
	if !ok {
		return nil, fmt.Errorf("input %q is not built in", name)
	}
	var doc map[string]any
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, err
	}
	table, err := theTable(doc, name)
	if err != nil {
		return nil, err
	}
	plugin := creator()
	// Every key's error, in the order the file has them.
	var errs []string
	for _, key := range keysOf(md, table, name) {
		if err := decodeKey(plugin, key, table[key]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return plugin, nil
}

// theTable is the one [[inputs.<name>]] table of the file.
func theTable(doc map[string]any, name string) (map[string]any, error) {
	want := fmt.Sprintf("[[inputs.%s]]", name)
	for key, value := range doc {
		if key == "inputs" {
			continue
		}
		if _, ok := value.(map[string]any); ok || isTableArray(value) {
			return nil, fmt.Errorf("section %q is not allowed: the file holds one %s table and nothing else", key, want)
		}
		return nil, fmt.Errorf("key %q outside %s is not allowed", key, want)
	}
	section, ok := doc["inputs"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no %s table", want)
	}
	for other := range section {
		if other != name {
			return nil, fmt.Errorf("input %q is not allowed: the file holds one %s table and nothing else", other, want)
		}
	}
	tables, ok := section[name].([]map[string]any)
	if !ok {
		return nil, fmt.Errorf("no %s table: write it with double brackets", want)
	}
	if len(tables) != 1 {
		return nil, fmt.Errorf("%d %s tables: the file must hold exactly one (run one process per table)", len(tables), want)
	}
	return tables[0], nil
}

func isTableArray(v any) bool {
	_, ok := v.([]map[string]any)
	return ok
}

var linePrefix = regexp.MustCompile(`^toml: line \d+ \(last key "[^"]*"\): `)

// keysOf lists the table's keys in the file's order.
func keysOf(md toml.MetaData, table map[string]any, name string) []string {
	var keys []string
	for _, k := range md.Keys() {
		if len(k) == 3 && k[0] == "inputs" && k[1] == name {
			if _, ok := table[k[2]]; ok && !slices.Contains(keys, k[2]) {
				keys = append(keys, k[2])
			}
		}
	}
	return keys
}

// decodeKey expands and decodes one key into the plugin, refusing a key the
// plugin does not take.
func decodeKey(plugin telegraf.Input, key string, value any) error {
	value, err := expand(value)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{key: value}); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	md, err := toml.Decode(buf.String(), plugin)
	if err != nil {
		// The line is of the one-key document decoded here, not the file's.
		return fmt.Errorf("%s: %s", key, linePrefix.ReplaceAllString(err.Error(), ""))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		if len(undecoded[0]) > 1 {
			return fmt.Errorf("%s: unknown key %q", key, undecoded[0].String())
		}
		return unknownKey(plugin, key)
	}
	return nil
}

func unknownKey(plugin telegraf.Input, key string) error {
	if near := nearest(key, knownKeys(reflect.TypeOf(plugin))); near != "" {
		return fmt.Errorf("unknown key %q (did you mean %q?)", key, near)
	}
	return fmt.Errorf("unknown key %q", key)
}

// knownKeys lists the toml keys of a struct, its embedded structs included.
func knownKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			keys = append(keys, knownKeys(f.Type)...)
		case !f.IsExported():
		case tag != "":
			keys = append(keys, tag)
		}
	}
	return keys
}

// nearest is the known key closest to key, if close enough to be a slip:
// at most 2 edits, and fewer than a third of the key's length.
func nearest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		d := distance(strings.ToLower(key), k)
		if d < bestDist && d*3 < max(len(key), len(k)) {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expand applies the ${NAME} rule to every string in a value.
func expand(value any) (any, error) {
	switch v := value.(type) {
	case string:
		return ExpandString(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = expand(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			var err error
			if out[k], err = expand(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []map[string]any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			m, err := expand(e)
			if err != nil {
				return nil, err
			}
			out[i] = m.(map[string]any)
		}
		return out, nil
	}
	return value, nil
}

// ExpandString replaces each ${NAME} in s by the environment variable NAME
// and each $${ by ${; every other $ stays as it is. An unset NAME, or a ${
// that does not start a ${NAME}, is an error.
func ExpandString(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 || !isName(s[i+2:i+end]) {
				// The value itself is not shown: it may be a password.
				return "", errors.New("a ${ that does not start a ${NAME} (write $${ for a literal ${)")
			}
			name := s[i+2 : i+end]
			value, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set (${%s}; write $${ for a literal ${)", name, name)
			}
			b.WriteString(value)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Into loads the plugin file at path strictly, in place of the shim's
// LoadConfig, and adds its input to s, which initialises it.
func Into(s *shim.Shim, path, name string) error {
	input, err := Load(path, name)
	if err != nil {
		return err
	}
	return s.AddInput(input)
}
