// Package state keeps what tentaclesync knows about one Tentacle server's
// configuration files between runs: for each file it pushed or found in
// step, the content's SHA-256 and size, and whether tentaclesync pushed it.
// It is one small JSON file per server, replaced atomically.
package state

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Version is the format written; Load refuses any other.
const Version = 1

const (
	fileMode = 0o640
	dirMode  = 0o750
)

// Entry is what the server holds under one name, as far as tentaclesync
// knows.
type Entry struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Pushed is true when tentaclesync sent this content (or an earlier
	// one) to the server; only such files may ever be removed from it.
	Pushed bool `json:"pushed"`
}

// Server is the state of one server. Files is keyed by "dir/name", such as
// "conf/H.conf".
type Server struct {
	Version int              `json:"version"`
	Server  string           `json:"server"`
	Files   map[string]Entry `json:"files"`
}

// Sum is the SHA-256 of data as Entry keeps it.
func Sum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// FileName is the state file's name for server ("host:port"): readable,
// safe on any filesystem, and distinct for distinct servers.
func FileName(server string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, server)
	sum := sha256.Sum256([]byte(server))
	return "config-" + safe + "-" + hex.EncodeToString(sum[:4]) + ".json"
}

// Prepare creates dir if it is missing and checks that a state file can be
// written there.
func Prepare(dir string) error {
	if dir == "" {
		return errors.New("empty path")
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	probe, err := os.CreateTemp(dir, ".probe-*.tmp")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Load reads the state of server from dir. A server never seen before has
// an empty state and no error.
func Load(dir, server string) (*Server, error) {
	empty := &Server{Version: Version, Server: server, Files: map[string]Entry{}}
	path := filepath.Join(dir, FileName(server))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return empty, err
	}
	var st Server
	if err := json.Unmarshal(data, &st); err != nil {
		return empty, fmt.Errorf("%s: %w", path, err)
	}
	if st.Version != Version {
		return empty, fmt.Errorf("%s: format version %d, this tentaclesync reads %d", path, st.Version, Version)
	}
	if st.Server != server {
		return empty, fmt.Errorf("%s: holds the state of %q, not %q", path, st.Server, server)
	}
	if st.Files == nil {
		st.Files = map[string]Entry{}
	}
	return &st, nil
}

// Save replaces the server's state file in dir atomically and durably: a
// crash leaves the old state or the new one, never a mix.
func (s *Server) Save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, FileName(s.Server))
	tmp := filepath.Join(dir, ".tentaclesync-"+rand.Text()+".tmp")
	if err := writeSynced(tmp, append(data, '\n')); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
