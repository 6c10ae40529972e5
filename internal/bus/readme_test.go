package bus

import (
	"os"
	"strings"
	"testing"
)

// The README's sample nats-server.conf is NATSServerConfig, indented in its list item; this
// keeps them in step. Regenerate with: POTOK_WRITE_README=1 go test ./internal/bus -run TestREADMENATSConfig
func TestREADMENATSConfig(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var sample strings.Builder
	for _, line := range strings.SplitAfter(NATSServerConfig("0.0.0.0:4222", "/var/lib/nats"), "\n") {
		if line != "" {
			sample.WriteString("  " + line)
		}
	}
	const open = "  ```conf\n"
	if os.Getenv("POTOK_WRITE_README") != "" {
		start := strings.Index(readme, open)
		if start < 0 {
			t.Fatal("README.md has no ```conf block")
		}
		start += len(open)
		end := strings.Index(readme[start:], "  ```\n") + start
		readme = readme[:start] + sample.String() + readme[end:]
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(readme, open+sample.String()+"  ```\n") {
		t.Fatal("README.md's sample nats-server.conf is out of date; regenerate with POTOK_WRITE_README=1")
	}
}
