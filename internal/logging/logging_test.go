package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// restore puts the process's levels back after a test changed them.
func restore(t *testing.T) {
	global, node := zerolog.GlobalLevel(), levels.node.Load()
	t.Cleanup(func() {
		levels.node.Store(node)
		zerolog.SetGlobalLevel(global)
	})
}

// A log that is not a terminal (a buffer here, a pipe or a file in production) gets JSON under
// "auto"; "console" gets the human format whatever the writer.
func TestAutoFormatIsJSONOffATerminal(t *testing.T) {
	restore(t)
	for _, c := range []struct {
		format string
		json   bool
	}{{FormatAuto, true}, {FormatJSON, true}, {FormatConsole, false}} {
		var buf bytes.Buffer
		log := New(&buf, "info", c.format)
		log.Info().Str("sessionId", "s1").Msg("hello")
		var rec map[string]any
		isJSON := json.Unmarshal(buf.Bytes(), &rec) == nil
		if isJSON != c.json || !strings.Contains(buf.String(), "s1") {
			t.Errorf("format %s wrote %q, want JSON %v", c.format, buf.String(), c.json)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe was taken for a terminal")
	}
}

// SetLevel changes what every logger of the process writes, component loggers made before it
// included; an unknown level is refused and leaves the level as it was.
func TestSetLevelIsProcessWide(t *testing.T) {
	restore(t)
	var buf bytes.Buffer
	comp := Component(New(&buf, "info", FormatJSON), "mediad", "n1")
	comp.Debug().Msg("hidden")
	if got, err := SetLevel("DEBUG"); err != nil || got != "debug" || Level() != "debug" {
		t.Fatalf("SetLevel(DEBUG) = %q, %v; level %s", got, err, Level())
	}
	comp.Debug().Msg("shown")
	if _, err := SetLevel("loud"); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("SetLevel(loud) error %v, want one naming the level", err)
	}
	if Level() != "debug" {
		t.Errorf("a refused level changed the level to %s", Level())
	}
	if _, err := SetLevel("Warning"); err != nil || Level() != "warn" {
		t.Errorf("SetLevel(Warning): %v, level %s", err, Level())
	}
	comp.Info().Msg("hidden too")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") || !strings.Contains(out, `"nodeId":"n1"`) {
		t.Errorf("log %q: want only the line logged at debug, with its node id", out)
	}
}

// A raised logger logs below the node's level until it is released; while none is raised, lines
// below the node's level are dropped before they are built (zerolog's global level).
func TestRaiseTracesOneLogger(t *testing.T) {
	restore(t)
	var buf bytes.Buffer
	root := New(&buf, "info", FormatJSON)
	one, other := root.With().Str("sessionId", "traced").Logger(), root.With().Str("sessionId", "other").Logger()
	raised, release := Raise(one, zerolog.DebugLevel)
	if zerolog.GlobalLevel() != zerolog.DebugLevel {
		t.Errorf("global level %s while a logger is raised to debug", zerolog.GlobalLevel())
	}
	raised.Debug().Msg("traced line")
	other.Debug().Msg("untraced line")
	release()
	release() // idempotent: a second release must not undo another logger's raise
	if zerolog.GlobalLevel() != zerolog.InfoLevel {
		t.Errorf("global level %s after the release, want info", zerolog.GlobalLevel())
	}
	out := buf.String()
	if !strings.Contains(out, "traced line") || strings.Contains(out, "untraced line") {
		t.Errorf("log %q: want the raised logger's debug line only", out)
	}
	if !strings.Contains(out, `"sessionId":"traced"`) {
		t.Errorf("the raised logger lost its fields: %q", out)
	}
}
