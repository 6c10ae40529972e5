package dashboards

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	promproc "github.com/potok-media/potok/testkit/prometheus"
)

var update = flag.Bool("update", false, "rewrite README.md from the dashboards")

// TestDashboardsStructure: what makes a dashboard work on first import in any Grafana with a
// Prometheus data source, and readable without opening each panel.
func TestDashboardsStructure(t *testing.T) {
	ds, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 3 {
		t.Fatalf("%d dashboards, want the cluster overview, media node and signalling ones", len(ds))
	}
	uids := map[string]string{}
	for _, d := range ds {
		t.Run(d.File, func(t *testing.T) {
			if d.Title == "" || d.UID == "" || d.Description == "" {
				t.Errorf("title %q, uid %q, description %q: none may be empty", d.Title, d.UID, d.Description)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = d.File
			checkVariables(t, d)
			ids := map[int]string{}
			queries := 0
			for _, p := range d.AllPanels() {
				if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
					t.Errorf("panel %q: id %d not unique and positive (also %q)", p.Title, p.ID, prev)
				}
				ids[p.ID] = p.Title
				if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
					t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
				}
				if p.IsRow() {
					continue
				}
				queries += len(p.Targets)
				checkPanel(t, p)
			}
			if queries == 0 {
				t.Error("no queries")
			}
		})
	}
}

func checkVariables(t *testing.T, d Dashboard) {
	t.Helper()
	v, ok := d.Variable("datasource")
	if !ok || v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("no datasource variable of type prometheus: %+v", v)
	}
	node, ok := d.Variable("node")
	if !ok || node.Type != "query" || !strings.Contains(node.QueryText(), "potok_build_info") || node.AllValue != ".*" {
		t.Errorf("node variable %+v: want a query over potok_build_info with All = .*", node)
	}
	if node.Datasource == nil || node.Datasource.UID != "${datasource}" {
		t.Errorf("node variable queries %+v, want the datasource variable", node.Datasource)
	}
	if d.UID == "potok-cluster" {
		if tier, ok := d.Variable("tier"); !ok || tier.AllValue != ".*" {
			t.Errorf("the cluster overview has no tier variable: %+v", tier)
		}
	}
}

func checkPanel(t *testing.T, p Panel) {
	t.Helper()
	if p.Title == "" || p.Description == "" {
		t.Errorf("panel %d: title %q, description %q: both are needed", p.ID, p.Title, p.Description)
	}
	if p.FieldConfig.Defaults.Unit == "" {
		t.Errorf("panel %q: no unit (fieldConfig.defaults.unit)", p.Title)
	}
	if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
		t.Errorf("panel %q: datasource %+v, want the datasource variable", p.Title, p.Datasource)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q: no query", p.Title)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("panel %q: target %+v: an expr and a unique refId are needed", p.Title, tg)
		}
		refs[tg.RefID] = true
		if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q (%s): datasource %+v, want the datasource variable", p.Title, tg.RefID, tg.Datasource)
		}
		if !strings.Contains(tg.Expr, "$node") {
			t.Errorf("panel %q (%s): %s does not filter on $node", p.Title, tg.RefID, tg.Expr)
		}
	}
}

// TestREADMEInSync: README.md is what README() renders from the JSON and rules.
func TestREADMEInSync(t *testing.T) {
	want, err := README()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("dashboards/README.md is stale: run go test ./dashboards -update")
	}
}

func TestSignal(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`up{job=~"potok.*"} == 0`, `up{job=~"potok.*"}`},
		{"sum(rate(a[5m]))\n  > 0.05", "sum(rate(a[5m]))"},
		{`max by (node) (x) > 5`, `max by (node) (x)`},
		{`sum(x) / sum(y)`, `sum(x) / sum(y)`},
		{`x > 1e-3`, `x`},
	} {
		if got := Signal(c.expr); got != c.want {
			t.Errorf("Signal(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"node": ".*", "__rate_interval": "5s", "__interval": "1s", "datasource": "prom"}
	got := Substitute(`rate(x{node=~"$node"}[$__rate_interval]) + ${node:regex} [[node]] $__interval ${datasource}`, vars)
	if want := `rate(x{node=~".*"}[5s]) + .* .* 1s prom`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRulesPromtool: rules.yml and prometheus.yml pass promtool's own checks (Debian's
// prometheus package: scripts/deps.sh).
func TestRulesPromtool(t *testing.T) {
	promtool := promproc.Tool(t, "promtool")
	dir := t.TempDir()
	for _, f := range []string{RulesFile, "prometheus.yml"} {
		b, err := Files.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"check", "rules", RulesFile}, {"check", "config", "prometheus.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Name())
	}
	for _, want := range []string{"instance:potok_mediad_cpu_seconds_per_sent_packet:rate1m", "PotokNodeDown",
		"PotokStreamSetupSlow", "PotokPacketLoss", "PotokHookErrors"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("rules.yml has no %s (it has %v)", want, names)
		}
	}
}
