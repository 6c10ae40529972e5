package testwait

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeT records failures; its Fatalf ends the goroutine as testing.T's does.
type fakeT struct {
	testing.TB
	msgs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fake T in its own goroutine (Fatalf exits it) and returns the failures.
func run(fn func(testing.TB)) []string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msgs
}

func TestUntil(t *testing.T) {
	calls := 0
	if msgs := run(func(tb testing.TB) {
		Until(tb, time.Second, "third call", func() bool { calls++; return calls == 3 })
	}); len(msgs) != 0 || calls != 3 {
		t.Fatalf("condition that comes true: failures %q after %d calls", msgs, calls)
	}
	msgs := run(func(tb testing.TB) { Until(tb, 30*time.Millisecond, "never", func() bool { return false }) })
	if len(msgs) != 1 || !strings.Contains(msgs[0], "waiting for never") {
		t.Fatalf("condition that never holds: %q", msgs)
	}
}

func TestUntilOK(t *testing.T) {
	calls := 0
	if msgs := run(func(tb testing.TB) {
		UntilOK(tb, time.Second, "third call", func() error {
			if calls++; calls < 3 {
				return fmt.Errorf("call %d", calls)
			}
			return nil
		})
	}); len(msgs) != 0 || calls != 3 {
		t.Fatalf("check that comes true: failures %q after %d calls", msgs, calls)
	}
	calls = 0
	msgs := run(func(tb testing.TB) {
		UntilOK(tb, 30*time.Millisecond, "never", func() error { calls++; return fmt.Errorf("state %d", calls) })
	})
	if len(msgs) != 1 || !strings.Contains(msgs[0], "waiting for never: state "+fmt.Sprint(calls)) {
		t.Fatalf("check that never holds: %q (%d calls)", msgs, calls)
	}
}

func TestGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	go func() { <-stop }() // a leak while stop stays open
	var ok bool
	msgs := run(func(tb testing.TB) { ok = Goroutines(tb, base, 1, 50*time.Millisecond) })
	if ok || len(msgs) != 1 || !strings.Contains(msgs[0], "goroutine") {
		t.Fatalf("leak not reported: ok=%v %q", ok, msgs)
	}
	close(stop)
	// slack 1: the goroutine run() calls fn in
	msgs = run(func(tb testing.TB) { ok = Goroutines(tb, base, 1, 5*time.Second) })
	if !ok || len(msgs) != 0 {
		t.Fatalf("no leak reported as one: %q", msgs)
	}
}
