// Package internal_test keeps the package graph pointing one way (design.md "Top-level layout"):
// the contracts in api/ and the plumbing in internal/ never import a tier, and the tiers never
// import each other (signal and mediad talk only through NATS; mediad uses the client library). What needs the tiers together (the
// in-process cluster, scenarios, test peers) lives in testkit/.
package internal_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/potok-media/potok/"

// rules: packages matching the pattern must not depend, even indirectly, on the listed prefixes.
var rules = []struct {
	pattern   string
	forbidden []string
}{
	{"./api/...", []string{"signal", "mediad", "wasmclient", "internal", "testkit", "cmd"}},
	{"./internal/...", []string{"signal", "mediad", "wasmclient", "testkit", "cmd"}},
	{"./signal/...", []string{"mediad", "wasmclient", "testkit", "cmd"}},
	// mediad may use wasmclient, the Go client of the WCS protocol: a pull (/pull/pull) plays a
	// stream of another server exactly as a client does. wasmclient never imports a tier.
	{"./mediad/...", []string{"signal", "testkit", "cmd"}},
	{"./wasmclient", []string{"signal", "mediad", "testkit", "cmd"}},
	{"./wasmclient/media", []string{"signal", "mediad", "testkit", "cmd"}},
}

func TestPackagesPointOneWay(t *testing.T) {
	for _, r := range rules {
		for pkg, deps := range listDeps(t, r.pattern) {
			for _, dep := range deps {
				for _, f := range r.forbidden {
					if dep == module+f || strings.HasPrefix(dep, module+f+"/") {
						t.Errorf("%s imports %s (%s must not depend on %s/)", pkg, dep, r.pattern, f)
					}
				}
			}
		}
	}
}

// TestRulesSeeImports proves the check reads real dependencies: the cluster harness does import
// both tiers, so a rule against it would fire.
func TestRulesSeeImports(t *testing.T) {
	deps := listDeps(t, "./testkit/cluster")[module+"testkit/cluster"]
	var sawSignal, sawMediad bool
	for _, d := range deps {
		sawSignal = sawSignal || d == module+"signal"
		sawMediad = sawMediad || d == module+"mediad"
	}
	if !sawSignal || !sawMediad {
		t.Fatalf("go list -deps of testkit/cluster lacks the tiers (signal %v, mediad %v): %v", sawSignal, sawMediad, deps)
	}
}

// listDeps maps each package matching pattern (run from the module root) to its transitive
// dependencies, non-test code only: what a package's tests import is not part of its API.
func listDeps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, pattern)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	if len(m) == 0 {
		t.Fatalf("go list %s matched no package", pattern)
	}
	return m
}
