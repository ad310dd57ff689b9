//go:build !unix

package embedded

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; without flock no lock is taken and SQLite's
// own file locking is all that protects the database.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file: %w", err)
	}
	return f, nil
}
