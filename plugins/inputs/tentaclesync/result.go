package tentaclesync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"

	"github.com/tentaclesync/tentaclesync/tentacle"
)

// result is the outcome of one server's sync, as the result tag and the
// result_code field report it.
type result struct {
	name  string
	code  int64
	retry bool // worth another connection attempt within the same gather
}

var (
	resultSuccess          = result{name: "success", code: 0}
	resultConnectionFailed = result{name: "connection_failed", code: 1, retry: true}
	resultTLSFailed        = result{name: "tls_failed", code: 2}
	resultAuthFailed       = result{name: "auth_failed", code: 3}
	resultTimeout          = result{name: "timeout", code: 4, retry: true}
	resultProtocolError    = result{name: "protocol_error", code: 5}
	// resultBusy: another sync of the server, in this process or another,
	// was running; this gather left the server to it.
	resultBusy = result{name: "busy", code: 6}
)

func classify(err error) result {
	switch {
	case err == nil:
		return resultSuccess
	case errors.Is(err, tentacle.ErrAuthRejected):
		return resultAuthFailed
	case isTimeout(err):
		return resultTimeout
	case isTLS(err):
		return resultTLSFailed
	case isProtocol(err):
		return resultProtocolError
	default:
		return resultConnectionFailed
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func isTLS(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		op        *net.OpError
	)
	return errors.Is(err, tentacle.ErrTLSHandshake) ||
		errors.As(err, &verify) || errors.As(err, &header) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		// An alert from the server, e.g. "certificate required" when a TLS
		// 1.3 server refuses the client's certificate after the handshake.
		(errors.As(err, &op) && op.Op == "remote error")
}

func isProtocol(err error) bool {
	var (
		pe *tentacle.ProtocolError
		re *tentacle.RemoteError
		de *tentacle.DeclinedError
	)
	return errors.As(err, &pe) || errors.As(err, &re) || errors.As(err, &de)
}
