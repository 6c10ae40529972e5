package dashboards

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// The naming conventions of Potok's metrics (README "Monitoring"), checked over every registered
// family by TestMetricConventions and over live processes by the Prometheus test.
var (
	// A family is its tier's (potok_signal_, potok_mediad_) or common to every process.
	tierPrefixes = []string{"potok_signal_", "potok_mediad_"}
	commonNames  = regexp.MustCompile(`^potok_(build_info|heartbeat_age_seconds|nats_[a-z_]+|directory_[a-z_]+)$`)
	snakeCase    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// Units a histogram or a unit-bearing gauge ends with.
	unitSuffix = regexp.MustCompile(`_(seconds|bytes|ratio)$`)
	// Label names that would carry a stream, a session, a client or an address: unbounded, and
	// per-stream figures belong to the REST API and the stats page (issue 10, item 4).
	forbiddenLabels = regexp.MustCompile(`(?i)(stream|session|client|remote|addr|^ip$|_ip$|peer|user|token|url|path|name$|^id$|_id$|callid|sdp)`)
)

// MaxLabelValues bounds the values one label takes across a family's series (a closed set such
// as message names or reasons stays far below it).
const MaxLabelValues = 40

// CheckFamilies reports every breach of the conventions in families: names, units, help, label
// names, and label values that are one of forbidden (the stream names, session ids and client
// addresses a test used), look like an IP address, or are too many for one label.
func CheckFamilies(families []*dto.MetricFamily, forbidden []string) []error {
	var errs []error
	bad := func(f *dto.MetricFamily, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", f.GetName(), fmt.Sprintf(format, args...)))
	}
	banned := map[string]bool{}
	for _, v := range forbidden {
		banned[v] = true
	}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "potok_") {
			continue // the Go and process collectors
		}
		if !snakeCase.MatchString(name) {
			bad(f, "not snake_case")
		}
		if !commonNames.MatchString(name) && !hasTierPrefix(name) {
			bad(f, "neither potok_signal_, potok_mediad_ nor a common potok_ family")
		}
		if strings.TrimSpace(f.GetHelp()) == "" {
			bad(f, "no help")
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				bad(f, "a counter must end with _total")
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
			if !unitSuffix.MatchString(name) {
				bad(f, "a histogram must end with its unit (_seconds, _bytes)")
			}
		default:
			if strings.HasSuffix(name, "_total") {
				bad(f, "only counters end with _total")
			}
		}
		values := map[string]map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				ln, lv := lp.GetName(), lp.GetValue()
				if values[ln] == nil {
					values[ln] = map[string]bool{}
				}
				values[ln][lv] = true
				if banned[lv] {
					bad(f, "label %s=%q is a stream name, session id or client address", ln, lv)
				}
				if net.ParseIP(lv) != nil {
					bad(f, "label %s=%q is an IP address", ln, lv)
				}
			}
		}
		lns := make([]string, 0, len(values))
		for ln := range values {
			lns = append(lns, ln)
		}
		sort.Strings(lns)
		for _, ln := range lns {
			if ln != "node" && forbiddenLabels.MatchString(ln) {
				bad(f, "label %q names a per-stream, per-session or per-client value", ln)
			}
			if n := len(values[ln]); n > MaxLabelValues {
				bad(f, "label %q takes %d values (at most %d)", ln, n, MaxLabelValues)
			}
		}
	}
	return errs
}

func hasTierPrefix(name string) bool {
	for _, p := range tierPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
