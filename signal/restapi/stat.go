package restapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// statLabel is the metrics label of the statistics page.
const statLabel = "/?action=stat"

// serveRoot answers GET /?action=stat, WCS's statistics page on the REST port (docs/protocol.md
// §G), and 404 for every other path or query that reaches "/": Register puts it on the mux's
// root only because that is where WCS serves the page.
func (s *server) serveRoot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/" || q.Get("action") != "stat" {
		s.metrics.observe(labelOther, http.StatusNotFound, 0)
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	defer func() { s.done(r, statLabel, sw.status(), time.Since(start)) }()
	if !s.preamble(sw, r) {
		return
	}
	if s.opts.Backend == nil {
		writeError(sw, http.StatusServiceUnavailable, "REST API backend not ready")
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	stats, err := s.opts.Backend.Stats(ctx)
	if err != nil {
		s.fail(sw, statLabel, err)
		return
	}
	stats = selectGroups(stats, q.Get("groups"))
	sw.Header().Set("Cache-Control", "no-store")
	if q.Get("format") == "json" {
		writeJSON(sw, http.StatusOK, stats)
		return
	}
	sw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	sw.WriteHeader(http.StatusOK)
	_, _ = sw.Write([]byte(statText(stats)))
}

// selectGroups keeps the groups a comma-separated list names (any case); "" keeps all.
func selectGroups(stats map[string]map[string]any, list string) map[string]map[string]any {
	if strings.TrimSpace(list) == "" {
		return stats
	}
	want := strings.Split(strings.ToLower(list), ",")
	for i := range want {
		want[i] = strings.TrimSpace(want[i])
	}
	out := make(map[string]map[string]any)
	for g, kv := range stats {
		if slices.Contains(want, strings.ToLower(g)) {
			out[g] = kv
		}
	}
	return out
}

// statText writes the page as the WebSDK's stat.poll reads it (rest-module.js, §H.12): a line
// "-----<group>" opens a group, each following line is key=value, lines are split on "\n" and
// pairs on the first "=" of the line, the value being what lies before a second one. Its header
// pattern reads letters only, so a group's name must be letters to reach the page under its
// name; a key must not contain "=" and nothing may contain a newline, so those are replaced.
// Groups and keys are sorted, so the page is stable. No final newline: the SDK would read the
// empty last line as a key "".
func statText(stats map[string]map[string]any) string {
	var b strings.Builder
	for i, g := range sortedKeys(stats) {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("-----")
		b.WriteString(oneLine(g))
		kv := stats[g]
		for _, k := range sortedKeys(kv) {
			b.WriteByte('\n')
			b.WriteString(strings.ReplaceAll(oneLine(k), "=", "_"))
			b.WriteByte('=')
			b.WriteString(oneLine(statValue(kv[k])))
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oneLine replaces line breaks, which would start a new entry of the page.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// statValue writes a figure as WCS does: numbers in plain decimal (never 1e+06), strings as
// they are, anything else as JSON.
func statValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
