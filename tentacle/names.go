package tentacle

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// DefaultPort is the IANA port of the Tentacle protocol.
const DefaultPort = "41121"

// ForbiddenChars are the characters the reference server refuses in a file
// name. '<' and '>' delimit the name on the wire, and '/' and '\' would leave
// the server's storage directory.
const ForbiddenChars = `?[]/\=+<>:;',*~`

// MaxNameLen bounds a name so that the longest command stays well under the
// 1 KiB read the server makes for a command line.
const MaxNameLen = 255

// ErrInvalidName reports a name that may not be sent to a Tentacle server.
var ErrInvalidName = errors.New("invalid Tentacle file name")

// CheckName reports whether name can be put in a command. Names are bytes,
// in whatever encoding the agent wrote them: it refuses what the reference
// server refuses, plus a newline, which would end the command early and let
// the rest be read as a second command, and NUL, which no file name holds.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLen)
	case strings.ContainsAny(name, ForbiddenChars):
		c := name[strings.IndexAny(name, ForbiddenChars)]
		return fmt.Errorf("%w: %q holds %q, which Tentacle forbids in names (%s)", ErrInvalidName, name, c, ForbiddenChars)
	case strings.ContainsAny(name, "\n\x00"):
		return fmt.Errorf("%w: %q holds a newline or NUL byte", ErrInvalidName, name)
	}
	return nil
}

// PasswordDigest is what a client sends after PASS: the hex MD5 of the raw
// MD5 digest of the password.
func PasswordDigest(password string) string {
	inner := md5.Sum([]byte(password))
	outer := md5.Sum(inner[:])
	return hex.EncodeToString(outer[:])
}
