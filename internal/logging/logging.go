// Package logging sets up zerolog for every Potok component: structured, one logger per component,
// carrying the ids that let an operator follow one session across nodes.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Formats of the log: json for log shippers, console for people, auto (the default) for console
// when the log goes to a terminal and JSON otherwise (a pipe, a file, journald).
const (
	FormatAuto    = "auto"
	FormatJSON    = "json"
	FormatConsole = "console"
)

// New returns the process's root logger and sets the node's log level to level (info when it is
// empty or unknown). The level is the process's, not the logger's: the REST API changes it at run
// time for a whole node (SetLevel), and every component logger made from the root follows.
func New(w io.Writer, level, format string) zerolog.Logger {
	if w == nil {
		w = os.Stderr
	}
	if console(w, format) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	levels.mu.Lock()
	levels.raw = w
	levels.mu.Unlock()
	if _, err := SetLevel(level); err != nil || level == "" {
		_, _ = SetLevel("info")
	}
	return zerolog.New(filter{w}).Level(zerolog.TraceLevel).With().Timestamp().Logger()
}

// levels are the process's log levels. node is the operator's (--log-level, SetLevel); raised
// counts the loggers traced at their own level (Raise: one client's session). zerolog's global
// level is the lowest of them, so that a line below every level is dropped before it is built;
// filter then drops the lines below the node's level that no raised logger wrote.
var levels = struct {
	mu     sync.Mutex
	node   atomic.Int32 // a zerolog.Level; read by filter without the lock
	raised map[zerolog.Level]int
	raw    io.Writer // the root's output without filter, which raised loggers write to
}{raised: map[zerolog.Level]int{}, raw: io.Discard}

// Until New sets a level, none is imposed: a process (a test) that never calls New logs as
// zerolog's defaults say.
func init() { levels.node.Store(int32(zerolog.TraceLevel)) }

// applyLocked sets zerolog's global level to the lowest level in use.
func applyLocked() {
	lowest := zerolog.Level(levels.node.Load())
	for l := range levels.raised {
		lowest = min(lowest, l)
	}
	zerolog.SetGlobalLevel(lowest)
}

// filter is the root logger's output: it keeps the lines at or above the node's level.
type filter struct{ w io.Writer }

func (f filter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f filter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < zerolog.Level(levels.node.Load()) {
		return len(p), nil
	}
	return f.w.Write(p)
}

// Raise returns l logging at its own level whatever the node's (one client traced at DEBUG while
// the node logs INFO: /connection/set_log_level), and the release to call when it is no longer
// used, which lets the process's cheapest filtering come back. Release is idempotent.
func Raise(l zerolog.Logger, level zerolog.Level) (zerolog.Logger, func()) {
	levels.mu.Lock()
	levels.raised[level]++
	raw := levels.raw
	applyLocked()
	levels.mu.Unlock()
	var once sync.Once
	release := func() {
		once.Do(func() {
			levels.mu.Lock()
			defer levels.mu.Unlock()
			if levels.raised[level]--; levels.raised[level] <= 0 {
				delete(levels.raised, level)
			}
			applyLocked()
		})
	}
	return l.Output(raw).Level(level), release
}

// console tells whether format asks for the console writer on w.
func console(w io.Writer, format string) bool {
	switch strings.ToLower(format) {
	case FormatConsole:
		return true
	case FormatJSON:
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether w is a character device (a terminal), the way a person runs
// `potok` by hand; pipes, files and journald's socket are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// SetLevel changes the node's log level, for every logger of the process: trace, debug, info, warn or error, in any
// case (WCS's REST API writes them in capitals). It returns the level now in force.
func SetLevel(level string) (string, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return "", err
	}
	levels.mu.Lock()
	defer levels.mu.Unlock()
	levels.node.Store(int32(lvl))
	applyLocked()
	return lvl.String(), nil
}

// Level is the node's log level now.
func Level() string {
	levels.mu.Lock()
	defer levels.mu.Unlock()
	return zerolog.Level(levels.node.Load()).String()
}

// ParseLevel reads one of the five levels an operator may set.
func ParseLevel(level string) (zerolog.Level, error) {
	switch l := strings.ToLower(strings.TrimSpace(level)); l {
	case "trace", "debug", "info", "warn", "error":
		lvl, _ := zerolog.ParseLevel(l)
		return lvl, nil
	case "warning":
		return zerolog.WarnLevel, nil
	}
	return zerolog.NoLevel, fmt.Errorf("unknown log level %q: want TRACE, DEBUG, INFO, WARN or ERROR", level)
}

// Component derives a component logger with its node id.
func Component(root zerolog.Logger, component, nodeID string) zerolog.Logger {
	return root.With().Str("component", component).Str("nodeId", nodeID).Logger()
}

// Test returns a logger for tests: console format at the level POTOK_TEST_LOG names when it is
// set, otherwise silent, so failing tests can be rerun with logs.
func Test() zerolog.Logger {
	if lvl := os.Getenv("POTOK_TEST_LOG"); lvl != "" {
		return New(os.Stderr, lvl, FormatConsole)
	}
	return zerolog.Nop()
}
