// Package logging sets up zerolog for every Potok component: structured, one logger per component,
// carrying the ids that let an operator follow one session across nodes.
package logging

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// New returns the root logger. format is "json" (default, for log shippers) or "console".
func New(w io.Writer, level, format string) zerolog.Logger {
	if w == nil {
		w = os.Stderr
	}
	if strings.EqualFold(format, "console") {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// Component derives a component logger with its node id.
func Component(root zerolog.Logger, component, nodeID string) zerolog.Logger {
	return root.With().Str("component", component).Str("nodeId", nodeID).Logger()
}

// Test returns a logger for tests: console format at debug level when POTOK_TEST_LOG is set,
// otherwise silent, so failing tests can be rerun with logs.
func Test() zerolog.Logger {
	if lvl := os.Getenv("POTOK_TEST_LOG"); lvl != "" {
		return New(os.Stderr, lvl, "console")
	}
	return zerolog.Nop()
}
