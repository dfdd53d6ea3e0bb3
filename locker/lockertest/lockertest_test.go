package lockertest_test

import (
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/vodgate/vodgate/locker/lockertest"
)

// TestMemoryLocker checks the suite against tusd's reference locker.
func TestMemoryLocker(t *testing.T) {
	lk := memorylocker.New()
	lockertest.Run(t, func(t *testing.T) handler.Locker { return lk })
}
