//go:build !linux

package priority

import (
	"errors"
	"fmt"
)

// Set is only implemented on Linux, where dialq runs; elsewhere it returns
// an error wrapping errors.ErrUnsupported.
func Set(nice int) error {
	return fmt.Errorf("set nice value %d: %w", nice, errors.ErrUnsupported)
}
