//go:build unix

package embedded

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/skein-cmdb/skein/internal/store"
)

// lockDir takes an exclusive, non-blocking flock on path. The lock is held
// until the returned file is closed (or the process dies).
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("embedded: %s is in use by another store (open elsewhere in this or another process): %w", path, store.ErrUnavailable)
		}
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	return f, nil
}
