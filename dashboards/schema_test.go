package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDashboardsGrafanaSchema type-checks every dashboard against the types Grafana publishes
// (@grafana/schema, pinned in schema/package.json; scripts/deps.sh installs it): each JSON becomes
// a TypeScript constant declared as Dashboard, which tsc --strict checks offline, refusing a
// property the schema does not have or a value of the wrong type. (Query targets are an open type
// there: PromQL is checked by Prometheus itself in TestMonitoringWithPrometheus.)
func TestDashboardsGrafanaSchema(t *testing.T) {
	modules, err := filepath.Abs(filepath.Join("schema", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	tsc := filepath.Join(modules, "typescript", "bin", "tsc")
	types := filepath.Join(modules, "@grafana", "schema", "dist", "types", "index")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(tsc); err != nil || serr != nil || !exists(types+".d.ts") {
		if os.Getenv("POTOK_E2E") != "" {
			t.Fatalf("node and dashboards/schema/node_modules are required (scripts/deps.sh): %v %v", err, serr)
		}
		t.Skip("node or dashboards/schema/node_modules missing; run scripts/deps.sh")
	}
	ds, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, d := range ds {
		b, err := Files.ReadFile(d.File)
		if err != nil {
			t.Fatal(err)
		}
		src := "import type { Dashboard } from " + quote(types) + ";\n\n" +
			"export const dashboard: Dashboard = " + string(b) + ";\n"
		f := filepath.Join(dir, strings.TrimSuffix(d.File, ".json")+".ts")
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Base(f))
	}
	args := append([]string{tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2020",
		"--moduleResolution", "node"}, files...)
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc against @grafana/schema (file.ts(line,column) is the JSON's line+2): %v\n%s", err, out)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// quote is a TypeScript string literal of s (a path).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
