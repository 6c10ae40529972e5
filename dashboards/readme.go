package dashboards

import (
	"fmt"
	"strings"
)

// README renders README.md of this folder from the dashboards and rules: what an operator would
// see of each panel (title, unit, query) without a Grafana server. TestREADMEInSync keeps the
// committed file equal to it (`go test ./dashboards -update` rewrites it).
func README() (string, error) {
	ds, err := Load()
	if err != nil {
		return "", err
	}
	rules, err := Rules()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Potok dashboards\n\n")
	b.WriteString("<!-- Generated from the JSON and rules.yml by `go test ./dashboards -update`; TestREADMEInSync fails when it is stale. -->\n\n")
	b.WriteString("Grafana dashboards for a Potok cluster (import each JSON: Dashboards → New → Import, pick a Prometheus\n")
	b.WriteString("data source), the Prometheus rules they use (`rules.yml`) and a scrape example (`prometheus.yml`).\n")
	b.WriteString("Every query filters on the `node` variable (the `node` label every Potok metric carries); the cluster\n")
	b.WriteString("overview also on `tier`. How to set them up: the README's \"Monitoring\" section.\n\n")
	for _, d := range ds {
		fmt.Fprintf(&b, "## %s\n\n`%s`, uid `%s`. %s\n\n", d.Title, d.File, d.UID, d.Description)
		var vars []string
		for _, v := range d.Templating.List {
			vars = append(vars, "`$"+v.Name+"`")
		}
		fmt.Fprintf(&b, "Variables: %s.\n\n", strings.Join(vars, ", "))
		b.WriteString("| panel | unit | query |\n|---|---|---|\n")
		row := ""
		for _, p := range d.AllPanels() {
			if p.IsRow() {
				row = p.Title
				continue
			}
			for i, t := range p.Targets {
				title := fmt.Sprintf("%s / **%s**", row, p.Title)
				if i > 0 {
					title = "〃"
				}
				legend := ""
				if t.LegendFormat != "" {
					legend = " → " + cell(t.LegendFormat)
				}
				fmt.Fprintf(&b, "| %s | %s | `%s`%s |\n", title, p.FieldConfig.Defaults.Unit, cell(t.Expr), legend)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Rules (`rules.yml`)\n\n| rule | kind | for | expression |\n|---|---|---|---|\n")
	for _, r := range rules {
		kind := "recording"
		if r.Alert != "" {
			kind = "alert"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` |\n", r.Name(), kind, r.For, cell(r.Expr))
	}
	return b.String(), nil
}

// cell makes s fit in one Markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
