package testenv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// stopper is a testing.TB whose Skip and Fatal record how the test would
// have stopped, and stop the helper by panicking.
type stopper struct {
	testing.TB
	how string
}

type stopped struct{}

func (s *stopper) Helper() {}
func (s *stopper) Skip(args ...any) {
	s.how = "skip: " + fmt.Sprint(args...)
	panic(stopped{})
}
func (s *stopper) Fatal(args ...any) {
	s.how = "fatal: " + fmt.Sprint(args...)
	panic(stopped{})
}

func run(s *stopper, f func()) {
	defer func() {
		if r := recover(); r != nil && r != (stopped{}) {
			panic(r)
		}
	}()
	f()
}

func TestMissingThingsSkipOrFail(t *testing.T) {
	for _, tc := range []struct {
		ci, want string
	}{{"", "skip: "}, {"false", "skip: "}, {"true", "fatal: "}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			s := &stopper{TB: t}
			run(s, func() { SharedTestdata(s, "no/such/file.yaml") })
			assert.Contains(t, s.how, tc.want+"shared test data")
			s = &stopper{TB: t}
			run(s, func() { Tool(s, "SKEIN_TEST_NO_TOOL", "tools/x.sh", "/no/such/tool") })
			assert.Contains(t, s.how, tc.want+"none of [/no/such/tool] found: run tools/x.sh")
		})
	}
}
