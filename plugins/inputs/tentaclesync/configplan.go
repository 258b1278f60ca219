package tentaclesync

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tentaclesync/tentaclesync/internal/state"
)

// configKind is one kind of remote configuration file: the spool
// subdirectory it lives in and the suffix that Pandora's filters route
// there on the Tentacle server.
type configKind struct {
	dir, suffix string
	// pulled kinds are the ones an agent uploads on first contact.
	pulled bool
}

var configKinds = []configKind{
	{dir: "conf", suffix: ".conf", pulled: true},
	{dir: "collections", suffix: ".zip"},
	{dir: "commands", suffix: ".rcmd"},
	{dir: "md5", suffix: ".md5", pulled: true},
}

// cfgFile names a configuration file: "conf/H.conf" is {conf, H.conf}. On
// the server only the name travels; its filters pick the directory.
type cfgFile struct{ dir, name string }

func (f cfgFile) String() string { return f.dir + "/" + f.name }

func (f cfgFile) isMD5() bool { return f.dir == "md5" }

// base is the name without its suffix: H for conf/H.conf and md5/H.md5.
func (f cfgFile) base() string {
	if i := strings.LastIndexByte(f.name, '.'); i > 0 {
		return f.name[:i]
	}
	return f.name
}

// md5 is the file that announces a new version of f to the agents.
func (f cfgFile) md5() cfgFile { return cfgFile{dir: "md5", name: f.base() + ".md5"} }

// content is a file's SHA-256 and size.
type content struct {
	sum  string
	size int64
}

// configView is everything the plan is made from.
type configView struct {
	central map[cfgFile]content
	// centralDirs are the central subdirectories that exist; nothing is
	// removed from the server for a kind whose directory is missing, which
	// is more likely a mistake than a deliberate deletion of everything.
	centralDirs map[string]bool
	remote      map[cfgFile]bool
	known       map[string]state.Entry
	// remoteSums holds the SHA-256 of files read back from the server
	// because the state did not know them (see toCompare).
	remoteSums map[cfgFile]string
}

// configPlan is what one gather does on one server, each list in the order
// it must be done.
type configPlan struct {
	pull   []cfgFile // payloads first, md5 files last
	send   []cfgFile // payloads first, md5 files last
	remove []cfgFile // md5 files first, payloads last
	// adopt records files found in step without a transfer.
	adopt map[cfgFile]content
	// forget drops state entries of files gone from both sides.
	forget []cfgFile
}

// toCompare lists the files that both sides hold and the state does not
// know: their remote content has to be read before the plan can tell
// whether they are in step. An md5 file is read itself; a payload only when
// its md5 file cannot vouch for it.
func toCompare(v configView) []cfgFile {
	var files []cfgFile
	for f := range v.central {
		if !v.remote[f] || v.isKnown(f) {
			continue
		}
		if f.isMD5() || !v.bothHold(f.md5()) {
			files = append(files, f)
		}
	}
	return payloadsFirst(files)
}

func planConfig(v configView) configPlan {
	p := configPlan{adopt: map[cfgFile]content{}}
	for f, c := range v.central {
		if c.size == 0 {
			// Being written on the central side, or nothing an agent can
			// use: the server refuses empty files anyway. An md5 file that
			// announces an empty payload is held back, and reported, when
			// it is sent (payloadsOnServer).
			continue
		}
		switch {
		case !v.remote[f]:
			p.send = append(p.send, f)
		case v.isKnown(f):
			if v.known[f.String()].SHA256 != c.sum {
				p.send = append(p.send, f)
			}
		case v.inStep(f):
			p.adopt[f] = c
		default:
			p.send = append(p.send, f)
		}
	}
	for f := range v.remote {
		if _, ok := v.central[f]; ok {
			continue
		}
		entry, known := v.known[f.String()]
		switch {
		case !known && v.firstContact(f):
			p.pull = append(p.pull, f)
		case known && entry.Pushed && v.centralDirs[f.dir]:
			p.remove = append(p.remove, f)
		}
		// Known but not pushed: the central side deleted a file the agent
		// uploaded. It stays on the server, and the state entry stays too,
		// so that it is not pulled back in.
	}
	for key := range v.known {
		f, ok := parseKey(key)
		if !ok {
			continue
		}
		if _, central := v.central[f]; !central && !v.remote[f] {
			p.forget = append(p.forget, f)
		}
	}
	p.pull = payloadsFirst(p.pull)
	p.send = payloadsFirst(p.send)
	p.remove = md5First(p.remove)
	slices.SortFunc(p.forget, compareFiles)
	return p
}

// worthListing tells whether the server's directory of kind k can change
// the plan, given the kinds listed so far (configKinds lists conf/ first and
// md5/ last). conf/ always can: agents upload there on first contact. The
// others only when the central side or the state holds files of that kind,
// or, for md5/, when the server holds conf files whose md5 files may be
// first-contact ones. Skipping the rest saves round trips on every gather
// for sites without collections or remote commands.
func (v configView) worthListing(k configKind, listed map[cfgFile]bool) bool {
	if k.dir == "conf" {
		return true
	}
	if k.dir == "md5" {
		for f := range listed {
			if f.dir == "conf" {
				return true
			}
		}
	}
	for f := range v.central {
		if f.dir == k.dir {
			return true
		}
	}
	for key := range v.known {
		if f, ok := parseKey(key); ok && f.dir == k.dir {
			return true
		}
	}
	return false
}

func (v configView) isKnown(f cfgFile) bool {
	_, ok := v.known[f.String()]
	return ok
}

func (v configView) bothHold(f cfgFile) bool {
	_, central := v.central[f]
	return central && v.remote[f]
}

// inStep tells whether a file both sides hold, unknown to the state, has
// the same content on both: read back, or vouched for by its md5 file.
func (v configView) inStep(f cfgFile) bool {
	if sum, ok := v.remoteSums[f]; ok {
		return sum == v.central[f].sum
	}
	if f.isMD5() {
		return false
	}
	m := f.md5()
	if !v.bothHold(m) {
		return false
	}
	if entry, ok := v.known[m.String()]; ok {
		return entry.SHA256 == v.central[m].sum
	}
	sum, ok := v.remoteSums[m]
	return ok && sum == v.central[m].sum
}

// firstContact tells whether a file only the server holds is one an agent
// uploaded on first contact: a conf file, or the md5 file beside one. An
// md5 file without a conf file belongs to a collection or command that the
// central side no longer has, and must not come back through here.
func (v configView) firstContact(f cfgFile) bool {
	if f.isMD5() {
		return v.remote[cfgFile{dir: "conf", name: f.base() + ".conf"}]
	}
	for _, k := range configKinds {
		if k.dir == f.dir {
			return k.pulled
		}
	}
	return false
}

func parseKey(key string) (cfgFile, bool) {
	dir, name, ok := strings.Cut(key, "/")
	if !ok {
		return cfgFile{}, false
	}
	f := cfgFile{dir: dir, name: name}
	for _, k := range configKinds {
		if k.dir == dir && strings.HasSuffix(name, k.suffix) {
			return f, true
		}
	}
	return cfgFile{}, false
}

func payloadsFirst(files []cfgFile) []cfgFile { return sortFiles(files, true) }

func md5First(files []cfgFile) []cfgFile { return sortFiles(files, false) }

// sortFiles puts the md5 files after the payloads, or before them, and
// sorts by name within each group.
func sortFiles(files []cfgFile, md5Last bool) []cfgFile {
	slices.SortFunc(files, func(a, b cfgFile) int {
		if a.isMD5() != b.isMD5() {
			if a.isMD5() == md5Last {
				return 1
			}
			return -1
		}
		return compareFiles(a, b)
	})
	return files
}

func compareFiles(a, b cfgFile) int {
	return cmp.Or(cmp.Compare(a.dir, b.dir), cmp.Compare(a.name, b.name))
}
