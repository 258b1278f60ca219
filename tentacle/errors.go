package tentacle

import (
	"errors"
	"fmt"
)

// ErrAuthRejected is returned by Auth when the server closes the connection
// instead of answering PASS OK: that is how the reference server refuses a
// wrong password. A TLS server spoken to in plain text hangs up the same way.
var ErrAuthRejected = errors.New("password rejected: the server closed the connection after PASS (or it expects TLS)")

// ErrServerClosed reports a server that closed the connection instead of
// answering a command. The reference server does so on a wrong password, an
// unknown command, a command line that is too long, and LS or MV when it was
// not started with -I.
var ErrServerClosed = errors.New("server closed the connection without answering")

// ErrTLSHandshake wraps every failure of the TLS handshake in Dial.
var ErrTLSHandshake = errors.New("TLS handshake failed")

// A RemoteError is an ERR answer: the server refused the command but the
// connection is still usable.
type RemoteError struct {
	Cmd    string // SEND, RECV, LS, MV, ...
	Name   string
	Reason string // the text in parentheses, if any
}

func (e *RemoteError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("server refused %s <%s>", e.Cmd, e.Name)
	}
	return fmt.Sprintf("server refused %s <%s>: %s", e.Cmd, e.Name, e.Reason)
}

// A ProtocolError is an answer the protocol does not allow. The connection is
// closed: after it nothing the server sends can be trusted to line up.
type ProtocolError struct {
	Cmd string
	Msg string
	Err error // ErrServerClosed when the server hung up; nil otherwise
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, e.Msg)
	}
	return fmt.Sprintf("protocol error after %s: %s", e.Cmd, e.Msg)
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// A TransferError reports a file body that did not arrive whole. For MV the
// server deletes the file as soon as it has written the bytes, so Lost is true
// once the server has started sending: the file is gone on the remote side.
type TransferError struct {
	Cmd  string
	Name string
	Got  int64 // bytes read from the server
	Size int64 // bytes announced
	Lost bool
	Err  error
}

func (e *TransferError) Error() string {
	msg := fmt.Sprintf("%s <%s>: transfer broke after %d of %d bytes: %v", e.Cmd, e.Name, e.Got, e.Size, e.Err)
	if e.Lost {
		msg += " (the server has deleted its copy)"
	}
	return msg
}

func (e *TransferError) Unwrap() error { return e.Err }

// A DeclinedError reports a file that the client refused after seeing its
// size; the server keeps the file. Err is what the accept function returned.
type DeclinedError struct {
	Cmd  string
	Name string
	Size int64
	Err  error
}

func (e *DeclinedError) Error() string {
	return fmt.Sprintf("declined %s <%s> of %d bytes: %v", e.Cmd, e.Name, e.Size, e.Err)
}

func (e *DeclinedError) Unwrap() error { return e.Err }
