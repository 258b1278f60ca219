package tentaclesync

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tentaclesync/tentaclesync/internal/state"
)

func file(key string) cfgFile {
	f, ok := parseKey(key)
	if !ok {
		panic("bad key " + key)
	}
	return f
}

func keys(files []cfgFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.String())
	}
	return out
}

// view builds a configView from central contents ("" for none), remote
// names, state entries and remote sums, by key.
type viewSpec struct {
	central    map[string]string
	remote     []string
	known      map[string]state.Entry
	remoteSums map[string]string
	noDirs     []string
}

func (s viewSpec) view() configView {
	v := configView{central: map[cfgFile]content{}, centralDirs: map[string]bool{}, remote: map[cfgFile]bool{},
		known: s.known, remoteSums: map[cfgFile]string{}}
	for _, k := range configKinds {
		v.centralDirs[k.dir] = true
	}
	for _, dir := range s.noDirs {
		delete(v.centralDirs, dir)
	}
	for key, data := range s.central {
		v.central[file(key)] = content{sum: state.Sum([]byte(data)), size: int64(len(data))}
	}
	for _, key := range s.remote {
		v.remote[file(key)] = true
	}
	for key, data := range s.remoteSums {
		v.remoteSums[file(key)] = state.Sum([]byte(data))
	}
	if v.known == nil {
		v.known = map[string]state.Entry{}
	}
	return v
}

func entry(data string, pushed bool) state.Entry {
	return state.Entry{SHA256: state.Sum([]byte(data)), Size: int64(len(data)), Pushed: pushed}
}

func TestPlanConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		spec               viewSpec
		compare            []string
		pull, send, remove []string
		adopt, forget      []string
	}{
		"empty": {},
		"new on the central side: payloads first, md5 last": {
			spec: viewSpec{central: map[string]string{"md5/a.md5": "1", "conf/a.conf": "c", "collections/z.zip": "z", "md5/z.md5": "2", "commands/r.rcmd": "r"}},
			send: []string{"collections/z.zip", "commands/r.rcmd", "conf/a.conf", "md5/a.md5", "md5/z.md5"},
		},
		"first contact: conf before md5; a stray md5 or zip stays": {
			spec: viewSpec{remote: []string{"md5/h.md5", "conf/h.conf", "md5/gone.md5", "collections/x.zip", "commands/c.rcmd"}},
			pull: []string{"conf/h.conf", "md5/h.md5"},
		},
		"in step by the state": {
			spec: viewSpec{central: map[string]string{"conf/a.conf": "c", "md5/a.md5": "1"}, remote: []string{"conf/a.conf", "md5/a.md5"},
				known: map[string]state.Entry{"conf/a.conf": entry("c", true), "md5/a.md5": entry("1", false)}},
		},
		"edited on the central side": {
			spec: viewSpec{central: map[string]string{"conf/a.conf": "c2", "md5/a.md5": "2"}, remote: []string{"conf/a.conf", "md5/a.md5"},
				known: map[string]state.Entry{"conf/a.conf": entry("c", false), "md5/a.md5": entry("1", false)}},
			send: []string{"conf/a.conf", "md5/a.md5"},
		},
		"known but gone from the server: sent again": {
			spec: viewSpec{central: map[string]string{"conf/a.conf": "c"}, known: map[string]state.Entry{"conf/a.conf": entry("c", true)}},
			send: []string{"conf/a.conf"},
		},
		"no state: md5 files are read back and vouch for their payloads": {
			spec: viewSpec{
				central:    map[string]string{"conf/a.conf": "c", "md5/a.md5": "1", "conf/b.conf": "b", "md5/b.md5": "2"},
				remote:     []string{"conf/a.conf", "md5/a.md5", "conf/b.conf", "md5/b.md5"},
				remoteSums: map[string]string{"md5/a.md5": "1", "md5/b.md5": "old"},
			},
			compare: []string{"md5/a.md5", "md5/b.md5"},
			adopt:   []string{"conf/a.conf", "md5/a.md5"},
			send:    []string{"conf/b.conf", "md5/b.md5"},
		},
		"no state, no md5 file: the payload is read back": {
			spec: viewSpec{central: map[string]string{"commands/r.rcmd": "r", "commands/s.rcmd": "s"}, remote: []string{"commands/r.rcmd", "commands/s.rcmd"},
				remoteSums: map[string]string{"commands/r.rcmd": "r", "commands/s.rcmd": "other"}},
			compare: []string{"commands/r.rcmd", "commands/s.rcmd"},
			adopt:   []string{"commands/r.rcmd"},
			send:    []string{"commands/s.rcmd"},
		},
		"no state and nothing read back: sent": {
			spec:    viewSpec{central: map[string]string{"md5/a.md5": "1"}, remote: []string{"md5/a.md5"}},
			compare: []string{"md5/a.md5"},
			send:    []string{"md5/a.md5"},
		},
		"deleted centrally: pushed ones go, md5 first; others stay and are not pulled back": {
			spec: viewSpec{remote: []string{"collections/z.zip", "md5/z.md5", "conf/h.conf", "md5/h.md5"},
				known: map[string]state.Entry{"collections/z.zip": entry("z", true), "md5/z.md5": entry("2", true),
					"conf/h.conf": entry("c", false), "md5/h.md5": entry("1", false)}},
			remove: []string{"md5/z.md5", "collections/z.zip"},
		},
		"no removal for a kind whose central directory is missing": {
			spec: viewSpec{remote: []string{"collections/z.zip"}, known: map[string]state.Entry{"collections/z.zip": entry("z", true)},
				noDirs: []string{"collections"}},
		},
		"gone from both sides: forgotten": {
			spec:   viewSpec{known: map[string]state.Entry{"conf/h.conf": entry("c", true), "md5/h.md5": entry("1", false)}},
			forget: []string{"conf/h.conf", "md5/h.md5"},
		},
		"an empty central file is neither sent nor a deletion": {
			spec: viewSpec{central: map[string]string{"conf/a.conf": ""}, remote: []string{"conf/a.conf"},
				known: map[string]state.Entry{"conf/a.conf": entry("c", true)}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			v := tc.spec.view()
			require.Equal(t, tc.compare, keys(toCompare(v)), "compare")
			p := planConfig(v)
			require.Equal(t, tc.pull, keys(p.pull), "pull")
			require.Equal(t, tc.send, keys(p.send), "send")
			require.Equal(t, tc.remove, keys(p.remove), "remove")
			require.Equal(t, tc.forget, keys(p.forget), "forget")
			var adopted []cfgFile
			for f := range p.adopt {
				adopted = append(adopted, f)
			}
			require.Equal(t, tc.adopt, keys(payloadsFirst(adopted)), "adopt")
		})
	}
}

// TestPlanConfigInvariants runs the planner over every combination of
// central content, remote presence, state and read-back content for a conf
// file, a collection and the md5 file they share, and checks what must
// always hold.
func TestPlanConfigInvariants(t *testing.T) {
	files := []cfgFile{file("conf/a.conf"), file("collections/a.zip"), file("md5/a.md5")}
	// Per file: central (none, v1, v2) x remote (no, yes) x state (none,
	// v1 pushed, v1 not pushed) x read back (none, v1, v2).
	const perFile = 3 * 2 * 3 * 3
	total := 1
	for range files {
		total *= perFile
	}
	sum := func(v int) string { return state.Sum([]byte{byte(v)}) }
	for n := range total {
		v := configView{central: map[cfgFile]content{}, remote: map[cfgFile]bool{}, known: map[string]state.Entry{},
			remoteSums: map[cfgFile]string{}, centralDirs: map[string]bool{"conf": true, "collections": true, "md5": true}}
		for i, x := 0, n; i < len(files); i, x = i+1, x/perFile {
			f, c := files[i], x%perFile
			if central := c % 3; central > 0 {
				v.central[f] = content{sum: sum(central), size: 1}
			}
			v.remote[f] = (c/3)%2 == 1
			if !v.remote[f] {
				delete(v.remote, f)
			}
			if known := (c / 6) % 3; known > 0 {
				v.known[f.String()] = state.Entry{SHA256: sum(1), Size: 1, Pushed: known == 1}
			}
			if back := (c / 18) % 3; back > 0 && v.remote[f] {
				v.remoteSums[f] = sum(back)
			}
		}
		checkPlan(t, v, planConfig(v))
	}
}

func checkPlan(t *testing.T, v configView, p configPlan) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("view %+v, plan %+v: "+format, append([]any{v, p}, args...)...)
	}
	order := func(list []cfgFile, md5Last bool) {
		t.Helper()
		for i := 1; i < len(list); i++ {
			if list[i-1].isMD5() != list[i].isMD5() && list[i-1].isMD5() == md5Last {
				fail("%v out of order", keys(list))
			}
		}
	}
	order(p.send, true)
	order(p.pull, true)
	order(p.remove, false)

	seen := map[cfgFile]string{}
	mark := func(list []cfgFile, what string) {
		for _, f := range list {
			if seen[f] != "" {
				fail("%s is both %s and %s", f, seen[f], what)
			}
			seen[f] = what
		}
	}
	mark(p.send, "sent")
	mark(p.pull, "pulled")
	mark(p.remove, "removed")
	var adopted []cfgFile
	for f := range p.adopt {
		adopted = append(adopted, f)
	}
	mark(adopted, "adopted")

	for f, c := range v.central {
		entry, known := v.known[f.String()]
		inStepByState := known && entry.SHA256 == c.sum && v.remote[f]
		switch {
		case !v.remote[f] && seen[f] != "sent":
			fail("%s is missing remotely but not sent", f)
		case inStepByState && seen[f] != "":
			fail("%s is in step by the state but %s", f, seen[f])
		case !inStepByState && seen[f] != "sent" && seen[f] != "adopted":
			fail("%s may differ remotely but is neither sent nor adopted", f)
		}
		if back, ok := v.remoteSums[f]; ok && back != c.sum && seen[f] == "adopted" {
			fail("%s is known to differ remotely but adopted", f)
		}
	}
	for _, f := range p.remove {
		entry, known := v.known[f.String()]
		if _, central := v.central[f]; central || !v.remote[f] || !known || !entry.Pushed {
			fail("%s removed without being pushed, deleted centrally and present remotely", f)
		}
	}
	for _, f := range p.pull {
		_, central := v.central[f]
		_, known := v.known[f.String()]
		if central || known || !v.remote[f] || f.dir == "collections" {
			fail("%s pulled though it is not a first-contact file", f)
		}
	}
}

func TestWorthListing(t *testing.T) {
	kind := func(dir string) configKind {
		for _, k := range configKinds {
			if k.dir == dir {
				return k
			}
		}
		panic(dir)
	}
	listedConf := map[cfgFile]bool{file("conf/h.conf"): true}
	for name, tc := range map[string]struct {
		spec   viewSpec
		listed map[cfgFile]bool
		want   []string
	}{
		"nothing anywhere: conf/ only":      {want: []string{"conf"}},
		"a conf on the server: its md5 too": {listed: listedConf, want: []string{"conf", "md5"}},
		"a central collection":              {spec: viewSpec{central: map[string]string{"collections/z.zip": "z"}}, want: []string{"conf", "collections"}},
		"a known command":                   {spec: viewSpec{known: map[string]state.Entry{"commands/r.rcmd": entry("r", true)}}, want: []string{"conf", "commands"}},
		"a central md5 file":                {spec: viewSpec{central: map[string]string{"md5/z.md5": "1"}}, want: []string{"conf", "md5"}},
	} {
		t.Run(name, func(t *testing.T) {
			v := tc.spec.view()
			var got []string
			for _, k := range configKinds {
				if v.worthListing(kind(k.dir), tc.listed) {
					got = append(got, k.dir)
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}
