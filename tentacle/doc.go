// Package tentacle implements a client for the Tentacle file transfer protocol
// spoken by Pandora FMS agents and servers (TCP port 41121).
//
// The client follows the protocol as the reference server speaks it: strict
// lock-step (one command, then its whole answer, before the next command),
// newline-terminated lines, and file bodies that follow a SIZE answer. Bodies
// are streamed through io.Reader and io.Writer; nothing holds a whole file in
// memory.
//
// A Client is not safe for concurrent use: the protocol has no way to tell two
// answers apart. Open one Client per goroutine.
package tentacle
