package bench

import (
	"strings"
	"testing"
)

func FuzzParseCPU(f *testing.F) {
	f.Add("process_cpu_seconds_total 1.5\n")
	f.Add("process_cpu_seconds_total{a=\"}\"} 2\n")
	f.Add("process_cpu_seconds_total{\n")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseCPU(strings.NewReader(s))
		if err == nil && (v < 0 || v != v) {
			t.Fatalf("accepted %v", v)
		}
	})
}
