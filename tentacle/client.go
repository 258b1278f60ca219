package tentacle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxListSize bounds an LS answer when Options.MaxListSize is zero:
// about a million typical agent file names.
const DefaultMaxListSize = 64 << 20

// maxAnswerLen bounds one answer line. The longest legitimate answer is an
// ERR with a short reason; a server that sends more is not a Tentacle server.
const maxAnswerLen = 1024

// Options configure a Client.
type Options struct {
	// TLSConfig, when set, starts TLS right after the TCP connect; the
	// protocol has no STARTTLS.
	TLSConfig *tls.Config
	// Timeout bounds each operation as a whole: the dial with its TLS
	// handshake, a command with its answer. A file body gets Timeout once
	// and once more per MiB of its size. Zero leaves only the context's
	// deadline.
	Timeout time.Duration
	// MaxListSize bounds the bytes of an LS answer. Zero means
	// DefaultMaxListSize.
	MaxListSize int64
}

// AcceptFunc is told the size the server announced for a file and returns
// where its bytes go. Returning an error declines the file: the server keeps
// it and the connection stays usable. A file of 0 bytes is declined with
// ErrEmpty before the AcceptFunc is asked.
type AcceptFunc func(size int64) (io.Writer, error)

// Client is a connection to a Tentacle server.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	opts Options
	buf  []byte
	// broken is set once the connection can no longer be trusted to be in
	// step with the server; every later call returns it.
	broken error
	closed bool
}

// Dial connects to addr ("host:port"), with TLS when opts.TLSConfig is set.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn = WithQuickAck(conn)
	if opts.TLSConfig != nil {
		tlsConn := tls.Client(conn, opts.TLSConfig)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
		}
		conn = tlsConn
	}
	return NewClient(conn, opts), nil
}

// NewClient returns a Client using an existing connection; opts.TLSConfig is
// ignored.
func NewClient(conn net.Conn, opts Options) *Client {
	if opts.MaxListSize <= 0 {
		opts.MaxListSize = DefaultMaxListSize
	}
	return &Client{
		conn: conn,
		r:    bufio.NewReaderSize(conn, 64<<10),
		opts: opts,
		buf:  make([]byte, 64<<10),
	}
}

// Auth sends the password. The reference server answers a wrong one by
// closing the connection, which Auth reports as ErrAuthRejected.
func (c *Client) Auth(ctx context.Context, password string) error {
	return c.do(ctx, func() error {
		// The digest stays out of every error: it is as good as the password.
		answer, err := c.roundTrip("PASS", "PASS "+PasswordDigest(password))
		if errors.Is(err, ErrServerClosed) {
			return ErrAuthRejected
		}
		if err != nil {
			return err
		}
		if answer != "PASS OK" {
			return c.breakWith(&ProtocolError{Cmd: "PASS", Msg: "unexpected answer " + quote(answer)})
		}
		return nil
	})
}

// List returns the entries of the server directory that name is routed to;
// an empty name lists the root. The entries come as the server sends them:
// unordered, with "." and ".." and subdirectory names among them.
func (c *Client) List(ctx context.Context, name string) ([]string, error) {
	if name != "" {
		if err := CheckName(name); err != nil {
			return nil, err
		}
	}
	var listing bytes.Buffer
	_, err := c.fetch(ctx, "LS", name, func(size int64) (io.Writer, error) {
		if size > c.opts.MaxListSize {
			return nil, fmt.Errorf("listing of %d bytes exceeds the bound of %d bytes", size, c.opts.MaxListSize)
		}
		listing.Grow(int(size))
		return &listing, nil
	})
	if err != nil {
		return nil, err
	}
	return ParseListing(listing.Bytes()), nil
}

// Move takes a file from the server (MV): the server sends it and deletes
// it. accept sees the size before any byte moves and may decline.
func (c *Client) Move(ctx context.Context, name string, accept AcceptFunc) (int64, error) {
	return c.fetchChecked(ctx, "MV", name, accept)
}

// Recv copies a file from the server (RECV); the server keeps it.
func (c *Client) Recv(ctx context.Context, name string, accept AcceptFunc) (int64, error) {
	return c.fetchChecked(ctx, "RECV", name, accept)
}

// ZRecv is Recv with the body as a zip archive holding the file (ZRECV). The
// archive names its member with the server's local path: never use that name
// as a path.
func (c *Client) ZRecv(ctx context.Context, name string, accept AcceptFunc) (int64, error) {
	return c.fetchChecked(ctx, "ZRECV", name, accept)
}

// Send uploads size bytes read from body as name (SEND).
func (c *Client) Send(ctx context.Context, name string, size int64, body io.Reader) error {
	return c.send(ctx, "SEND", name, size, body)
}

// ZSend uploads a zip archive holding the file (ZSEND); size is the
// archive's.
func (c *Client) ZSend(ctx context.Context, name string, size int64, body io.Reader) error {
	return c.send(ctx, "ZSEND", name, size, body)
}

// Err is nil while the connection is usable, and otherwise says why it is
// not: after a broken or overrun body, a protocol error or a close. A
// caller that handled a failure of one file asks it whether the next file
// needs a new connection.
func (c *Client) Err() error { return c.broken }

// Quit ends the session politely and closes the connection.
func (c *Client) Quit() error {
	if c.broken == nil {
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c.conn, "QUIT\n")
	}
	return c.Close()
}

// Close closes the connection without a word. Closing twice is harmless.
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = net.ErrClosed
	}
	if c.closed {
		return nil
	}
	c.closed = true
	return c.conn.Close()
}

func (c *Client) fetchChecked(ctx context.Context, cmd, name string, accept AcceptFunc) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	return c.fetch(ctx, cmd, name, accept)
}

// fetch runs the commands that answer "<cmd> SIZE n" and then send n bytes
// once the client has said "<cmd> OK".
func (c *Client) fetch(ctx context.Context, cmd, name string, accept AcceptFunc) (int64, error) {
	var n int64
	err := c.do(ctx, func() (err error) {
		n, err = c.fetchOnce(ctx, cmd, name, accept)
		return err
	})
	return n, err
}

func (c *Client) fetchOnce(ctx context.Context, cmd, name string, accept AcceptFunc) (int64, error) {
	answer, err := c.roundTrip(cmd, cmd+" <"+name+">")
	if err != nil {
		return 0, err
	}
	size, err := ParseSizeAnswer(cmd, answer)
	if err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			re.Name = name
			return 0, re
		}
		return 0, c.breakWith(err)
	}
	var w io.Writer
	if size == 0 && cmd != "LS" {
		// Nothing would follow "<cmd> OK" for the server to finish
		// before it reads the next line, so the two could arrive in one
		// read and be taken as one garbled command.
		err = ErrEmpty
	} else {
		w, err = accept(size)
	}
	if err != nil {
		if werr := c.writeLine(declineLine(cmd)); werr != nil {
			return 0, c.breakWith(werr)
		}
		return 0, &DeclinedError{Cmd: cmd, Name: name, Size: size, Err: err}
	}
	c.setDeadline(ctx, bodyTimeout(c.opts.Timeout, size))
	if err := c.writeLine(cmd + " OK"); err != nil {
		return 0, c.breakWith(err)
	}
	if n, err := c.readBody(cmd, name, size, w); err != nil || cmd == "LS" {
		return n, err
	}
	return size, c.confirmEnd(ctx, cmd, name, size, w)
}

// readBody copies exactly size bytes to w. A body that cannot be read or
// stored whole is cut with a reset at once: the reference server deletes a
// moved file only after writing all of it, and a reset makes its next write
// fail, so it keeps the file (unless all of it was already on its way).
func (c *Client) readBody(cmd, name string, size int64, w io.Writer) (int64, error) {
	var got int64
	for got < size {
		chunk := c.buf[:min(int64(len(c.buf)), size-got)]
		n, err := io.ReadFull(c.r, chunk)
		got += int64(n)
		if n > 0 {
			if _, werr := w.Write(chunk[:n]); werr != nil {
				c.reset()
				return got, c.breakWith(&TransferError{Cmd: cmd, Name: name, Got: got, Size: size, Local: true, Err: werr})
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			c.reset()
			return got, c.breakWith(&TransferError{Cmd: cmd, Name: name, Got: got, Size: size, Err: err})
		}
	}
	return got, nil
}

// probeLine is a question whose answer is known and that changes nothing:
// the reference server refuses a name with a forbidden character at once,
// with or without -I.
const probeLine = "RECV <=>"

// maxOverrun bounds the surplus read after a body, beyond the announced
// size: a file that grew to twice its size is kept whole, a server that
// never stops is not followed for ever.
func maxOverrun(size int64) int64 { return max(size, 1<<20) }

// confirmEnd proves that the server sent no more than it announced. The
// reference server streams a file to its end, not to the size it announced,
// so a file that grew in between (an upload still being written) brings
// bytes where the next answer belongs. The probe is sent after the body, and
// whatever arrives before its answer is surplus: it goes to w too, so that
// every byte the server sent is kept, and an *OverrunError says how much.
func (c *Client) confirmEnd(ctx context.Context, cmd, name string, size int64, w io.Writer) error {
	// The answer gets a timeout of its own: the body may have used up most
	// of its deadline on a slow link.
	c.setDeadline(ctx, c.opts.Timeout)
	if err := c.writeLine(probeLine); err != nil {
		return c.unconfirmed(cmd, name, size, err)
	}
	tail := holdback{w: w}
	for {
		n, err := c.r.Read(c.buf)
		tail.add(c.buf[:n])
		if extra, ok := tail.endsWithAnswer(); ok {
			if extra == 0 {
				return nil
			}
			return c.breakWith(&OverrunError{Cmd: cmd, Name: name, Size: size, Extra: extra})
		}
		if err == nil && tail.total <= maxOverrun(size) {
			continue
		}
		extra := tail.flush()
		if extra == 0 {
			return c.unconfirmed(cmd, name, size, err)
		}
		if err == nil {
			err = fmt.Errorf("still sending after %d bytes more than announced", extra)
		}
		c.reset()
		return c.breakWith(&OverrunError{Cmd: cmd, Name: name, Size: size, Extra: extra, Err: err})
	}
}

// unconfirmed reports a body after which the server said nothing. A server
// that hung up had nothing more to send, so the body is whole; one that
// fell silent leaves it unproven.
func (c *Client) unconfirmed(cmd, name string, size int64, err error) error {
	if closedByPeer(err) {
		_ = c.breakWith(&ProtocolError{Cmd: cmd, Msg: err.Error(), Err: ErrServerClosed})
		return nil
	}
	return c.breakWith(&TransferError{Cmd: cmd, Name: name, Got: size, Size: size,
		Err: fmt.Errorf("no answer after the body, so it is not proven whole: %w", err)})
}

// holdback passes bytes on to w, keeping the last maxAnswerLen back until it
// is known whether they are the probe's answer.
type holdback struct {
	w     io.Writer
	held  []byte
	total int64 // bytes added
	out   int64 // bytes passed on
}

func (h *holdback) add(p []byte) {
	h.held = append(h.held, p...)
	h.total += int64(len(p))
}

// endsWithAnswer reports whether the bytes end with the probe's answer, and
// then passes on those before it and returns their count.
func (h *holdback) endsWithAnswer() (int64, bool) {
	if len(h.held) == 0 || h.held[len(h.held)-1] != '\n' {
		h.trim()
		return 0, false
	}
	// The surplus need not end in a newline: the answer may follow it on
	// the same line. Surplus that itself ends in such a line at the end of
	// a read would be taken for the answer; agent XML never does.
	i := bytes.LastIndex(h.held, []byte("RECV ERR"))
	if i < 0 || bytes.IndexByte(h.held[i:], '\n') != len(h.held)-i-1 {
		h.trim()
		return 0, false
	}
	if _, ok := parseErr("RECV", string(h.held[i:len(h.held)-1])); !ok {
		h.trim()
		return 0, false
	}
	h.pass(i)
	return h.out, true
}

// trim passes on all but the last maxAnswerLen bytes.
func (h *holdback) trim() {
	if len(h.held) > maxAnswerLen {
		h.pass(len(h.held) - maxAnswerLen)
	}
}

// flush passes on everything held and returns the count passed on.
func (h *holdback) flush() int64 {
	h.pass(len(h.held))
	return h.out
}

func (h *holdback) pass(n int) {
	// A write error is the writer's to remember: these bytes are a bonus.
	_, _ = h.w.Write(h.held[:n])
	h.out += int64(n)
	h.held = append(h.held[:0], h.held[n:]...)
}

// reset makes the coming Close a reset rather than an orderly close.
func (c *Client) reset() {
	conn := c.conn
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if l, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
}

func (c *Client) send(ctx context.Context, cmd, name string, size int64, body io.Reader) error {
	if err := CheckName(name); err != nil {
		return err
	}
	return c.do(ctx, func() error { return c.sendOnce(ctx, cmd, name, size, body) })
}

func (c *Client) sendOnce(ctx context.Context, cmd, name string, size int64, body io.Reader) error {
	ok := cmd + " OK"
	answer, err := c.roundTrip(cmd, cmd+" <"+name+"> SIZE "+strconv.FormatInt(size, 10))
	if err != nil {
		return err
	}
	if answer != ok {
		return c.unexpected(cmd, name, answer)
	}
	c.setDeadline(ctx, bodyTimeout(c.opts.Timeout, size))
	n, err := io.CopyBuffer(c.conn, io.LimitReader(body, size), c.buf)
	if err == nil && n < size {
		err = fmt.Errorf("body ended after %d of %d bytes", n, size)
	}
	if err != nil {
		// The server waits for bytes that will never come.
		return c.breakWith(fmt.Errorf("%s <%s>: %w", cmd, name, err))
	}
	answer, err = c.readAnswer(cmd)
	if err != nil {
		return err
	}
	if answer != ok {
		return c.unexpected(cmd, name, answer)
	}
	return nil
}

// unexpected turns an answer other than OK into a RemoteError for ERR, and
// breaks the connection for anything else.
func (c *Client) unexpected(cmd, name, answer string) error {
	if reason, ok := parseErr(cmd, answer); ok {
		return &RemoteError{Cmd: cmd, Name: name, Reason: reason}
	}
	return c.breakWith(&ProtocolError{Cmd: cmd, Msg: "unexpected answer " + quote(answer)})
}

// do runs one operation bounded by the timeout and the context. It refuses
// to start on a broken connection, and names the context as the cause when
// the context's end, not the server, stopped the operation.
func (c *Client) do(ctx context.Context, op func() error) error {
	if c.broken != nil {
		return c.broken
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.setDeadline(ctx, c.opts.Timeout)
	expiredDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.conn.SetDeadline(expired)
		close(expiredDone)
	})
	err := op()
	if !stop() {
		// The context ended as the operation did: let the callback finish
		// now rather than expire the next operation's deadline.
		<-expiredDone
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return err
}

// expired is a deadline in the past: it makes blocked I/O return at once.
var expired = time.Unix(1, 0)

// setDeadline gives the rest of the operation d, within the context's
// deadline. A context that has ended keeps the connection's deadline expired.
func (c *Client) setDeadline(ctx context.Context, d time.Duration) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	if cd, ok := ctx.Deadline(); ok && (deadline.IsZero() || cd.Before(deadline)) {
		deadline = cd
	}
	_ = c.conn.SetDeadline(deadline)
	if ctx.Err() != nil {
		_ = c.conn.SetDeadline(expired)
	}
}

// bodyTimeout is the time a body of size bytes gets: the timeout once, and
// once more per MiB. A link slower than 1 MiB per timeout still carries big
// files, which matters because a MV cut short loses the file, while a
// stalled or dripping server is still found in bounded time.
func bodyTimeout(timeout time.Duration, size int64) time.Duration {
	if timeout <= 0 {
		return 0
	}
	factor := time.Duration(1 + min(size>>20, 1<<20))
	if timeout > maxBodyTimeout/factor {
		return maxBodyTimeout
	}
	return timeout * factor
}

// maxBodyTimeout keeps bodyTimeout from overflowing into no deadline at all.
const maxBodyTimeout = 7 * 24 * time.Hour

func (c *Client) roundTrip(cmd, line string) (string, error) {
	if err := c.writeLine(line); err != nil {
		if closedByPeer(err) {
			err = &ProtocolError{Cmd: cmd, Msg: err.Error(), Err: ErrServerClosed}
		}
		return "", c.breakWith(err)
	}
	return c.readAnswer(cmd)
}

// declineLine is the answer that refuses a file. Any answer but "<cmd> OK"
// declines, but the server answers a decline with silence, so the next
// command follows it without a round trip in between. The reference server
// reads commands in 1 KiB reads and takes two lines that arrive in one read
// as one garbled command; a decline of exactly 1 KiB fills that read alone.
func declineLine(cmd string) string {
	line := cmd + " ERR"
	return line + strings.Repeat(" ", serverReadSize-len(line)-1)
}

// serverReadSize is the reference server's read size for a command.
const serverReadSize = 1024

func (c *Client) writeLine(line string) error {
	_, err := io.WriteString(c.conn, line+"\n")
	return err
}

func (c *Client) readAnswer(cmd string) (string, error) {
	line, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || len(line) > maxAnswerLen:
		return "", c.breakWith(&ProtocolError{Cmd: cmd, Msg: fmt.Sprintf("answer longer than %d bytes", maxAnswerLen)})
	case err != nil && closedByPeer(err):
		return "", c.breakWith(&ProtocolError{Cmd: cmd, Msg: err.Error(), Err: ErrServerClosed})
	case err != nil:
		return "", c.breakWith(err)
	}
	return string(line[:len(line)-1]), nil
}

// closedByPeer tells an orderly close or reset by the server from local
// failures (deadlines, TLS alerts, a closed client).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// breakWith marks the connection unusable and closes it.
func (c *Client) breakWith(err error) error {
	if c.broken == nil {
		c.broken = fmt.Errorf("connection unusable after an earlier error: %w", err)
		c.Close()
	}
	return err
}

// ParseSizeAnswer reads the answer to a fetching command: "<cmd> SIZE n"
// gives n; "<cmd> ERR" or "<cmd> ERR (reason)" gives a *RemoteError; anything
// else, including a size that is not a plain decimal int64, a *ProtocolError.
func ParseSizeAnswer(cmd, answer string) (int64, error) {
	if reason, ok := parseErr(cmd, answer); ok {
		return 0, &RemoteError{Cmd: cmd, Reason: reason}
	}
	digits, ok := strings.CutPrefix(answer, cmd+" SIZE ")
	if !ok {
		return 0, &ProtocolError{Cmd: cmd, Msg: "unexpected answer " + quote(answer)}
	}
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, &ProtocolError{Cmd: cmd, Msg: "size is not a decimal number: " + quote(answer)}
	}
	size, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, &ProtocolError{Cmd: cmd, Msg: "size out of range: " + quote(answer)}
	}
	return size, nil
}

// parseErr recognises "<cmd> ERR" and "<cmd> ERR (reason)".
func parseErr(cmd, answer string) (reason string, ok bool) {
	rest, ok := strings.CutPrefix(answer, cmd+" ERR")
	if !ok {
		return "", false
	}
	if rest == "" {
		return "", true
	}
	rest, ok = strings.CutPrefix(rest, " ")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")"), true
}

// ParseListing splits an LS body into its entries, one per line. Empty
// lines are dropped; nothing else is judged here.
func ParseListing(body []byte) []string {
	var names []string
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		if len(line) > 0 {
			names = append(names, string(line))
		}
	}
	return names
}

// quote renders text from the server for an error message: Go-quoted, so
// control characters cannot forge log lines, and cut short.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
