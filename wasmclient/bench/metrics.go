package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cpuMetric is the standard process collector's counter (client_golang).
const cpuMetric = "process_cpu_seconds_total"

var errNoCPUMetric = errors.New("bench: no " + cpuMetric + " sample")

// scrapeCPU fetches the server's total process CPU seconds from its Prometheus text endpoints:
// metricsURLs is comma-separated, one per process of the server (a signal node and the media
// daemons of a relay), and their CPU is summed.
func scrapeCPU(ctx context.Context, metricsURLs string) (float64, error) {
	total := 0.0
	for _, u := range strings.Split(metricsURLs, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		v, err := scrapeOne(ctx, u)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// scrapeOne fetches one process's CPU seconds.
func scrapeOne(ctx context.Context, metricsURL string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench: scrape %s: %w", metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: scrape %s: HTTP %d", metricsURL, resp.StatusCode)
	}
	return parseCPU(io.LimitReader(resp.Body, 16<<20))
}

// parseCPU finds process_cpu_seconds_total in the Prometheus text format and sums its samples
// (one per process behind the endpoint; normally exactly one).
func parseCPU(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	total, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, cpuMetric) {
			continue
		}
		rest := line[len(cpuMetric):]
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		} else if !strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "\t") {
			continue // a longer metric name with the same prefix
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || v < 0 || v != v {
			return 0, fmt.Errorf("bench: bad %s value %q", cpuMetric, fields[0])
		}
		total, found = total+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: reading metrics: %w", err)
	}
	if !found {
		return 0, errNoCPUMetric
	}
	return total, nil
}
