// Package testwait holds the two waits every Potok test suite needs: a condition that must come
// true within a deadline (Until, or UntilOK when the failure should show the last state), and
// goroutines that must all have exited after a close (every goroutine has an owner and an exit).
// Only tests import it.
package testwait

import (
	"runtime"
	"testing"
	"time"
)

// Until polls cond every 10 ms and fails t when it has not held within timeout.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// UntilOK polls check every 10 ms until it returns nil and fails t when it has not within
// timeout. The failure carries check's last error, so it tells the state the wait ended in.
func UntilOK(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Goroutines waits until at most base+slack goroutines run; otherwise it marks t failed with
// every goroutine's stack, so a leak names its owner, and returns false. It does not stop the
// test, so a caller in a cleanup path still closes what it must. base is runtime.NumGoroutine()
// taken before the code under test started.
func Goroutines(t testing.TB, base, slack int, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > base+slack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Errorf("%d goroutines left, %d before (slack %d):\n%s", runtime.NumGoroutine(), base, slack, buf[:n])
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
