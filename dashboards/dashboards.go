// Package dashboards holds Potok's Grafana dashboards, the Prometheus rules that go with them and
// a scrape example (README "Monitoring"), and reads them for the tests that keep them working: a
// structural check, the panel list in README.md, and every query evaluated by a real Prometheus
// scraping a live cluster (testkit/scenario TestMonitoringWithPrometheus).
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Files are the dashboards (*.json), rules.yml and prometheus.yml.
//
//go:embed *.json rules.yml prometheus.yml
var Files embed.FS

// RulesFile is the name of the rules file in Files.
const RulesFile = "rules.yml"

// Dashboard is the part of a Grafana dashboard JSON the checks read.
type Dashboard struct {
	File        string `json:"-"`
	Title       string `json:"title"`
	UID         string `json:"uid"`
	Description string `json:"description"`
	Templating  struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Variable is a templating variable.
type Variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"` // a string (datasource type) or {query, refId}
	AllValue   string      `json:"allValue"`
	Datasource *Datasource `json:"datasource"`
}

// QueryText is the variable's query: the string, or the query member of a query object.
func (v Variable) QueryText() string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

// Datasource names a data source, here always the datasource variable.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is a panel or a row (whose collapsed panels are in Panels).
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *Datasource `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
}

// Load reads every dashboard of Files, in file name order.
func Load() ([]Dashboard, error) {
	names, err := fs.Glob(Files, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Dashboard
	for _, n := range names {
		b, err := Files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", n, err)
		}
		d.File = path.Base(n)
		out = append(out, d)
	}
	return out, nil
}

// AllPanels is every panel of d, rows and the panels inside collapsed rows included, in order.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Variable is the templating variable name, if any.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// IsRow reports whether p is a row (no queries of its own).
func (p Panel) IsRow() bool { return p.Type == "row" }

// Rule is one recording or alerting rule of rules.yml.
type Rule struct {
	Group  string
	Record string `yaml:"record"`
	Alert  string `yaml:"alert"`
	Expr   string `yaml:"expr"`
	For    string `yaml:"for"`
}

// Name is the rule's record or alert name.
func (r Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// Rules reads rules.yml.
func Rules() ([]Rule, error) {
	b, err := Files.ReadFile(RulesFile)
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("dashboards: %s: %w", RulesFile, err)
	}
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			r.Expr = strings.TrimSpace(r.Expr)
			out = append(out, r)
		}
	}
	return out, nil
}

// threshold is an alert's final comparison with a number.
var threshold = regexp.MustCompile(`(?s)^(.*?)\s*(==|!=|>=|<=|>|<)\s*-?[0-9][0-9.eE+-]*\s*$`)

// Signal is what an alert compares with its threshold: expr without its final comparison (the
// whole expr when it has none). An alert that does not fire returns nothing; its signal must
// return a series for every node it watches, or the alert could never fire.
func Signal(expr string) string {
	if m := threshold.FindStringSubmatch(expr); m != nil {
		return strings.TrimSpace(m[1])
	}
	return expr
}

// Substitute replaces Grafana's variables in expr as Grafana would with vars' values: $name,
// ${name}, ${name:fmt} and [[name]], longer names first. $__rate_interval and $__interval must be
// in vars like any other.
func Substitute(expr string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		v := vars[n]
		expr = regexp.MustCompile(`\$\{`+regexp.QuoteMeta(n)+`(:[^}]*)?\}`).ReplaceAllLiteralString(expr, v)
		expr = strings.ReplaceAll(expr, "[["+n+"]]", v)
		expr = strings.ReplaceAll(expr, "$"+n, v)
	}
	return expr
}

// Query is one expression to evaluate: a panel's target or a rule.
type Query struct {
	Where string // "cluster.json: Bandwidth in (A)", "rules.yml: PotokNodeDown"
	Expr  string // as written
	// Alert: Expr is an alert condition; Signal(Expr) is what must return series.
	Alert bool
}

// Queries are every target of every panel of every dashboard, then every rule.
func Queries() ([]Query, error) {
	ds, err := Load()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, d := range ds {
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				out = append(out, Query{Where: fmt.Sprintf("%s: %s (%s)", d.File, p.Title, t.RefID), Expr: t.Expr})
			}
		}
	}
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		out = append(out, Query{Where: RulesFile + ": " + r.Name(), Expr: r.Expr, Alert: r.Alert != ""})
	}
	return out, nil
}
