package server

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

var (
	sendRE  = regexp.MustCompile(`^(Z?SEND) <(.*)> SIZE (\d+)$`)
	fetchRE = regexp.MustCompile(`^(Z?RECV|LS|MV) <(.*)>$`)
	passRE  = regexp.MustCompile(`^PASS (.*)$`)
)

// errClose ends a session without an answer, as the reference server does on
// anything it does not understand.
var errClose = errors.New("closing connection")

type session struct {
	srv  *Server
	conn net.Conn
	log  *slog.Logger
}

func (s *session) run() error {
	if s.srv.cfg.Password != "" {
		if err := s.auth(); err != nil {
			return err
		}
	}
	for {
		cmd, err := s.readCommand()
		if err != nil {
			return err
		}
		if err := s.dispatch(cmd); err != nil {
			return err
		}
	}
}

func (s *session) auth() error {
	cmd, err := s.readCommand()
	if err != nil {
		return err
	}
	m := passRE.FindStringSubmatch(cmd)
	if m == nil || m[1] != tentacle.PasswordDigest(s.srv.cfg.Password) {
		return fmt.Errorf("%w: bad or missing password", errClose)
	}
	return s.write("PASS OK\n")
}

func (s *session) dispatch(cmd string) error {
	if cmd == "QUIT" {
		return io.EOF
	}
	if m := sendRE.FindStringSubmatch(cmd); m != nil {
		size, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: size %q", errClose, m[3])
		}
		return s.receive(m[1], m[2], size)
	}
	m := fetchRE.FindStringSubmatch(cmd)
	if m == nil {
		return fmt.Errorf("%w: unknown command %q", errClose, cmd)
	}
	switch verb, name := m[1], m[2]; verb {
	case "LS":
		if !s.srv.cfg.Insecure {
			return fmt.Errorf("%w: LS without -I", errClose)
		}
		return s.list(name)
	case "MV":
		if !s.srv.cfg.Insecure {
			return fmt.Errorf("%w: MV without -I", errClose)
		}
		return s.send(verb, name)
	default:
		return s.send(verb, name)
	}
}

// readCommand reads like the reference server: 1 KiB reads appended until
// one ends in a newline. Two commands that arrive in one read therefore make
// one garbled command, which is the client's fault.
func (s *session) readCommand() (string, error) {
	var cmd []byte
	buf := make([]byte, blockSize)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.srv.idle()))
		n, err := s.conn.Read(buf)
		cmd = append(cmd, buf[:n]...)
		if n > 0 && cmd[len(cmd)-1] == '\n' {
			return string(cmd[:len(cmd)-1]), nil
		}
		if err != nil {
			return "", err
		}
		// Checked after a read without the newline, as the reference
		// server does: a second 1 KiB read that still lacks it is too much.
		if len(cmd) > blockSize {
			return "", fmt.Errorf("%w: command longer than %d bytes", errClose, len(cmd))
		}
	}
}

// write sends an answer line or a body block and times out like the
// reference server.
func (s *session) write(data string) error {
	return s.writeBytes([]byte(data))
}

func (s *session) writeBytes(b []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.idle()))
	_, err := s.conn.Write(b)
	return err
}

// writeBody sends a body in separate blocks of BodyBlock bytes, 1 KiB by
// default as the reference server does; with Nagle on, that is what makes a
// client that delays its ACKs slow.
func (s *session) writeBody(r io.Reader) (int64, error) {
	buf := make([]byte, s.srv.cfg.BodyBlock)
	var sent int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := s.writeBytes(buf[:n]); werr != nil {
				return sent, werr
			}
			sent += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return sent, nil
		}
		if err != nil {
			return sent, err
		}
	}
}

// accepted announces size bytes and reads the client's answer: anything
// but the exact "<verb> OK" declines.
func (s *session) accepted(verb string, size int64) (bool, error) {
	if err := s.write(fmt.Sprintf("%s SIZE %d\n", verb, size)); err != nil {
		return false, err
	}
	answer, err := s.readCommand()
	if err != nil {
		return false, err
	}
	if answer != verb+" OK" {
		s.log.Debug("client declined", "command", verb)
		return false, nil
	}
	return true, nil
}

// offer announces size bytes of body and, once the client accepts, sends
// exactly that many. A body shorter than announced ends the session, so the
// client sees a short body instead of waiting for the rest.
func (s *session) offer(verb string, size int64, body io.Reader) (sent bool, err error) {
	ok, err := s.accepted(verb, size)
	if err != nil || !ok {
		return false, err
	}
	n, err := s.writeBody(io.LimitReader(body, size))
	if err != nil {
		return false, err
	}
	if n < size {
		return false, fmt.Errorf("%w: body shrank to %d of the %d bytes announced", errClose, n, size)
	}
	return true, nil
}

// list answers LS with the directory the name is routed to: unordered, with
// ".", ".." and subdirectories, as readdir gives them.
func (s *session) list(name string) error {
	if !validName(name) && name != "" {
		return s.write("LS ERR\n")
	}
	dir := filepath.Join(s.srv.cfg.Dir, s.srv.routeDir(name))
	d, err := os.Open(dir)
	if err != nil {
		return s.write("LS ERR\n")
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return s.write("LS ERR\n")
	}
	var body bytes.Buffer
	for _, n := range append([]string{".", ".."}, names...) {
		if !strings.HasPrefix(n, uploadPrefix) {
			body.WriteString(n + "\n")
		}
	}
	_, err = s.offer("LS", int64(body.Len()), &body)
	return err
}

// deadlineReader renews the idle deadline before each read of a body.
type deadlineReader struct {
	s *session
	r io.Reader
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.s.conn.SetReadDeadline(time.Now().Add(d.s.srv.idle()))
	return d.r.Read(p)
}

// zipOne packs a file the way the reference server does for ZRECV: one
// member named with the full local path.
func zipOne(path string, r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errBadArchive is a ZSEND body that holds no file; the reference server
// answers it with ZSEND ERR and reads on.
var errBadArchive = errors.New("bad zip archive")

func unzipFirst(archive []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadArchive, err)
	}
	if len(zr.File) == 0 {
		return nil, fmt.Errorf("%w: no member", errBadArchive)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadArchive, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadArchive, err)
	}
	return data, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
