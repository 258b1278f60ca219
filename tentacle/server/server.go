// Package server is a Tentacle server for tests, benchmarks and
// demonstrations of clients. It speaks the protocol as the reference Perl
// tentacle_server that Pandora FMS ships does: 1 KiB body writes with
// Nagle's algorithm on, "." and ".." in listings, a silent close on a bad
// password, MV deleting the file without waiting for an acknowledgement, a
// silent queue beyond MaxConns.
//
// Where the reference server lets a client see a half-written upload or
// sends more than it announced, this server is safe by default and
// reproduces the reference behaviour only when asked (VisibleUploads,
// StreamToEOF), so that clients can be tested against both.
//
// It is not hardened for production.
package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

// PandoraFilters is the filter list Pandora FMS starts its Tentacle server
// with (the -i option).
const PandoraFilters = `.*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans;.*\.rcmd:commands`

const (
	blockSize      = 1024 // the reference server reads and writes in 1 KiB blocks
	defaultMaxSize = 2000000
)

// Config mirrors the reference server's command line, plus options that
// say where this server departs from it.
type Config struct {
	Dir       string        // -s: storage directory, must exist
	Password  string        // -x: clients must send PASS first
	TLSConfig *tls.Config   // -e/-k (and -f: ClientAuth = RequireAndVerifyClientCert)
	Insecure  bool          // -I: enable LS and MV
	Overwrite bool          // -o: SEND may replace an existing file
	MaxSize   int64         // -m: largest file accepted by SEND; default 2,000,000
	Filters   []Filter      // -i: route names into subdirectories
	Timeout   time.Duration // -t: per network operation; default 1s
	Retries   int           // -r: default 3; idle close after Timeout × (Retries+1)
	MaxConns  int           // -c: connections served at once; default 10
	Logger    *slog.Logger  // nil: discard

	// NoDelay turns Nagle's algorithm off. It is NOT reference-faithful:
	// the reference server leaves Nagle on. It exists so that benchmarks
	// can show what Nagle costs a client.
	NoDelay bool
	// BodyBlock is the size of the reads and writes a body is sent in.
	// Zero means 1 KiB, as the reference server does; anything else is NOT
	// reference-faithful and exists so that benchmarks can show what the
	// 1 KiB blocks cost.
	BodyBlock int

	// VisibleUploads is reference-faithful: SEND and ZSEND read the whole
	// body into memory, then create (or truncate) the final name and write
	// it in 8 KiB writes, so LS, RECV and MV see the file growing until the
	// last write. Off (the default), an upload is written to a hidden
	// temporary name in the same directory, synced, and only then given its
	// name: no client ever sees part of it.
	VisibleUploads bool
	// UploadPause is a test aid, not reference behaviour. With
	// VisibleUploads it is called once the final file is open and before
	// each of its 8 KiB writes, with the bytes written so far (0, 8192,
	// ...); a test can block in it to hold an upload half written.
	UploadPause func(path string, written int64)
	// StreamToEOF is reference-faithful: RECV and MV take the size with
	// stat, answer it, and after the client's OK open the file and send it
	// to its end, however long it has grown; a file gone by then (another
	// MV took it) closes the connection without a byte. Off (the default),
	// the file is opened before the size is answered and exactly that many
	// bytes are sent; a file that shrank closes the connection after what
	// there is, and MV deletes only a file that is still the one it sent,
	// unchanged in size.
	StreamToEOF bool
}

// Filter routes names matching Pattern (unanchored, as in Perl) into Dir.
type Filter struct {
	Pattern *regexp.Regexp
	Dir     string
}

// ParseFilters parses the -i syntax: "regexp:dir;regexp:dir".
func ParseFilters(spec string) ([]Filter, error) {
	var filters []Filter
	for part := range strings.SplitSeq(spec, ";") {
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, ":")
		if i < 0 {
			return nil, fmt.Errorf("filter %q: want regexp:dir", part)
		}
		re, err := regexp.Compile(part[:i])
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", part, err)
		}
		filters = append(filters, Filter{Pattern: re, Dir: part[i+1:]})
	}
	return filters, nil
}

// Server serves the Tentacle protocol on one listener.
type Server struct {
	cfg   Config
	slots chan struct{}

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New checks cfg and fills in the reference server's defaults.
func New(cfg Config) (*Server, error) {
	info, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("storage directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("storage directory %s is not a directory", cfg.Dir)
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = defaultMaxSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10
	}
	if cfg.BodyBlock <= 0 {
		cfg.BodyBlock = blockSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, slots: make(chan struct{}, cfg.MaxConns), conns: map[net.Conn]struct{}{}}, nil
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background until Close.
func Start(addr string, cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.Serve(ln)
	}()
	return s, nil
}

// Addr is the listening address once Start or Serve has a listener.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve accepts connections on ln until it is closed. Like the reference
// server it takes a connection slot before accepting, so connections beyond
// MaxConns wait in the kernel's backlog.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		s.slots <- struct{}{}
		conn, err := ln.Accept()
		if err != nil {
			<-s.slots
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if !s.track(conn) {
			conn.Close()
			<-s.slots
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer s.untrack(conn)
			s.serveConn(conn)
		}()
	}
}

// Close stops listening, drops every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) serveConn(raw net.Conn) {
	if tcp, ok := raw.(interface{ SetNoDelay(bool) error }); ok {
		// The reference server leaves Nagle's algorithm on.
		_ = tcp.SetNoDelay(s.cfg.NoDelay)
	}
	log := s.cfg.Logger.With("client", raw.RemoteAddr().String())
	conn := raw
	if s.cfg.TLSConfig != nil {
		tlsConn := tls.Server(raw, s.cfg.TLSConfig)
		_ = tlsConn.SetDeadline(time.Now().Add(s.idle()))
		if err := tlsConn.Handshake(); err != nil {
			log.Info("TLS handshake failed", "err", err)
			return
		}
		conn = tlsConn
	}
	sess := &session{srv: s, conn: conn, log: log}
	// run only returns when the session ends; QUIT and a client hang-up end
	// it with io.EOF.
	if err := sess.run(); !errors.Is(err, io.EOF) {
		log.Info("connection closed", "err", err)
	}
}

// idle is how long the reference server waits on a silent client: each
// operation waits Timeout and is retried Retries times.
func (s *Server) idle() time.Duration {
	return s.cfg.Timeout * time.Duration(s.cfg.Retries+1)
}

// route is the path a name is stored at: the first matching filter's
// directory, or the root.
func (s *Server) route(name string) string {
	return filepath.Join(s.cfg.Dir, s.routeDir(name), name)
}

func (s *Server) routeDir(name string) string {
	for _, f := range s.cfg.Filters {
		if f.Pattern.MatchString(name) {
			return f.Dir
		}
	}
	return ""
}

// validName refuses what the reference server refuses, and the names of
// uploads in progress, so that no command can reach one.
func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, tentacle.ForbiddenChars) &&
		!strings.HasPrefix(name, uploadPrefix)
}
