package tentacle

import (
	"errors"
	"fmt"
)

// ErrAuthRejected is returned by Auth when the server closes the connection
// instead of answering PASS OK: that is how the reference server refuses a
// wrong password. A TLS server spoken to in plain text hangs up the same way.
var ErrAuthRejected = errors.New("password rejected: the server closed the connection after PASS (or it expects TLS)")

// ErrEmpty declines a file of 0 bytes, inside a DeclinedError, before any
// accept function sees it. The reference server never accepts an empty
// upload, so an empty file on it is an upload that has only just begun.
var ErrEmpty = errors.New("empty file: an upload in progress")

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

// A TransferError reports a file body that did not arrive whole, or whose
// end could not be proven. The connection was cut with a reset as soon as
// that was known: the reference server deletes a moved file only after it
// has written all of it, so after a reset it usually keeps the file; only
// one wholly on its way already is gone. Whether it is, only a new look at
// the server can tell.
type TransferError struct {
	Cmd   string
	Name  string
	Got   int64 // bytes read from the server
	Size  int64 // bytes announced
	Local bool  // the writer failed, not the connection
	Err   error
}

func (e *TransferError) Error() string {
	what := "transfer broke"
	if e.Local {
		what = "storing the body failed"
	}
	return fmt.Sprintf("%s <%s>: %s after %d of %d bytes: %v", e.Cmd, e.Name, what, e.Got, e.Size, e.Err)
}

func (e *TransferError) Unwrap() error { return e.Err }

// An OverrunError reports a body that the server followed with Extra bytes
// it had not announced: the file grew between the size the server gave and
// the end of its send, so it was most likely still being written. Every byte
// that came went to the writer; the copy is not whole.
type OverrunError struct {
	Cmd   string
	Name  string
	Size  int64 // bytes announced
	Extra int64 // bytes that followed them
	Err   error // why the surplus was not read to its end, if it was not
}

func (e *OverrunError) Error() string {
	msg := fmt.Sprintf("%s <%s>: the server announced %d bytes and sent %d more: the file was still growing", e.Cmd, e.Name, e.Size, e.Extra)
	if e.Err != nil {
		msg += fmt.Sprintf(" (surplus not read to its end: %v)", e.Err)
	}
	return msg
}

func (e *OverrunError) Unwrap() error { return e.Err }

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
