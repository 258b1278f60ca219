//go:build unix

package tentaclesync

import "golang.org/x/sys/unix"

// writable tells whether this process may create files in dir, without
// creating one.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}
