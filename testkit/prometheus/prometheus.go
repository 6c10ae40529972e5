// Package prometheus runs Debian's prometheus for tests: a foreground process on a free loopback
// port, its storage in a temporary directory, scraping the given targets every second and
// evaluating the given rule files every second, stopped when the test ends. Nothing leaves the
// machine (no alerting, no remote write). testkit/scenario (TestMonitoringWithPrometheus) proves
// the dashboards of dashboards/ with it.
package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/testwait"
)

// Options say what Prometheus scrapes and evaluates.
type Options struct {
	// Jobs are the scrape jobs: job name → host:port targets, /metrics scraped every second.
	Jobs map[string][]string
	// RuleFiles are loaded with rule_files (name → content) and evaluated every second.
	RuleFiles map[string][]byte
}

// Proc is a running Prometheus.
type Proc struct {
	URL string // http://127.0.0.1:port

	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Start runs prometheus with o until the test ends and returns once it is ready (its first
// scrapes come about 5 s later: the scrape manager applies targets on a fixed 5 s tick).
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	bin := Tool(t, "prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(o.RuleFiles) > 0 {
		cfg.WriteString("rule_files:\n")
		for _, name := range sortedKeys(o.RuleFiles) {
			if err := os.WriteFile(filepath.Join(dir, name), o.RuleFiles[name], 0o644); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "  - %q\n", filepath.Join(dir, name))
		}
	}
	cfg.WriteString("scrape_configs:\n")
	for _, job := range sortedKeys(o.Jobs) {
		targets, _ := json.Marshal(o.Jobs[job])
		fmt.Fprintf(&cfg, "  - job_name: %q\n    static_configs:\n      - targets: %s\n", job, targets)
	}
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The port is free a moment before prometheus binds it; another test may take it meanwhile.
	for attempt := 1; ; attempt++ {
		p := run(t, bin, conf, filepath.Join(dir, "data"), freeAddr(t), cfg.String())
		if p.waitReady(t) {
			return p
		}
		if attempt < 3 && strings.Contains(p.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("prometheus exited: %v\n%s", p.cmd.ProcessState, p.out.String())
	}
}

// run starts prometheus on addr; it stops when the test ends.
func run(t testing.TB, bin, conf, data, addr, cfg string) *Proc {
	t.Helper()
	p := &Proc{URL: "http://" + addr, done: make(chan struct{}), out: &syncBuffer{}}
	p.cmd = exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s\nconfiguration:\n%s", p.out.String(), cfg)
		}
	})
	return p
}

// waitReady waits for /-/ready; false when the process exited first.
func (p *Proc) waitReady(t testing.TB) bool {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	exited := false
	testwait.UntilOK(t, 20*time.Second, "prometheus ready", func() error {
		select {
		case <-p.done:
			exited = true
			return nil
		default:
		}
		resp, err := client.Get(p.URL + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	return !exited
}

// Result is the answer to an instant query.
type Result struct {
	Series []Series
	Scalar bool // a scalar or string result, which counts as one value
}

// Series is one series of a vector result.
type Series struct {
	Labels map[string]string
	Value  string
}

// Query evaluates expr now through /api/v1/query; a PromQL error is returned as an error.
func (p *Proc) Query(ctx context.Context, expr string) (Result, error) {
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &r); err != nil {
		return Result{}, err
	}
	if r.Status != "success" {
		return Result{}, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
			return Result{}, err
		}
		var res Result
		for _, s := range raw {
			v := ""
			if len(s.Value) == 2 {
				v, _ = s.Value[1].(string)
			}
			res.Series = append(res.Series, Series{Labels: s.Metric, Value: v})
		}
		return res, nil
	}
	return Result{Scalar: true}, nil
}

// RuleState is one rule as /api/v1/rules reports it.
type RuleState struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // recording or alerting
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	// LastEvaluation is zero before the rule's first evaluation.
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// Rules are the loaded rules and their last evaluation.
func (p *Proc) Rules(ctx context.Context) ([]RuleState, error) {
	var r struct {
		Data struct {
			Groups []struct {
				Rules []RuleState `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/rules", &r); err != nil {
		return nil, err
	}
	var out []RuleState
	for _, g := range r.Data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// Targets are the scrape targets' health: scrape URL → "up" or the last scrape error.
func (p *Proc) Targets(ctx context.Context) (map[string]string, error) {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/targets", &r); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, tg := range r.Data.ActiveTargets {
		out[tg.ScrapeURL] = tg.Health
		if tg.LastError != "" {
			out[tg.ScrapeURL] += ": " + tg.LastError
		}
	}
	return out, nil
}

// LabelValues are every value the label has in the stored series (/api/v1/label/…/values).
func (p *Proc) LabelValues(ctx context.Context, label string) ([]string, error) {
	var r struct {
		Data []string `json:"data"`
	}
	err := p.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", &r)
	return r.Data, err
}

// LabelNames are every label name of the stored series.
func (p *Proc) LabelNames(ctx context.Context) ([]string, error) {
	var r struct {
		Data []string `json:"data"`
	}
	err := p.get(ctx, "/api/v1/labels", &r)
	return r.Data, err
}

func (p *Proc) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Errors of a query come as 400/422 with the JSON body: decode either way.
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("prometheus %s: %s: %w", path, resp.Status, err)
	}
	return nil
}

// Tool finds a binary of Debian's prometheus package (prometheus, promtool). Without it the test
// fails under POTOK_E2E (make test, CI) and is skipped otherwise.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("POTOK_E2E") != "" {
		t.Fatalf("%s is required (scripts/deps.sh installs Debian's prometheus)", name)
	}
	t.Skipf("%s not installed; run scripts/deps.sh", name)
	return ""
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syncBuffer collects the process's output from its copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
