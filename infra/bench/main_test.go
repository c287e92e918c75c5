package bench

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The systems these tests start run their workers in this test binary,
	// started again (workerproc.go).
	ServeWorkersIfAsked()
	os.Exit(m.Run())
}
