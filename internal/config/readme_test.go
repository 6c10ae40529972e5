package config

import (
	"os"
	"strings"
	"testing"
)

// The README's settings table is generated from the options table; this keeps them in step.
// Regenerate with: POTOK_WRITE_README=1 go test ./internal/config -run TestREADMETable
func TestREADMETable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme, table := string(b), Markdown()
	if os.Getenv("POTOK_WRITE_README") != "" {
		start := strings.Index(readme, "| flag | environment | meaning |")
		if start < 0 {
			start = strings.Index(readme, "CONFIG_TABLE")
			readme = readme[:start] + table + readme[start+len("CONFIG_TABLE\n"):]
		} else {
			end := strings.Index(readme[start:], "\n\n") + start + 1
			readme = readme[:start] + table + readme[end:]
		}
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(readme, table) {
		t.Fatal("README.md settings table is out of date; regenerate with POTOK_WRITE_README=1")
	}
}
