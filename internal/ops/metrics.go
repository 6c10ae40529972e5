package ops

import (
	"errors"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeLabel is the constant label every metric of a tier carries: the node's id, as in the
// directory and the logs (README "Monitoring"). One process may run two nodes (the all-in-one:
// a signal node and a media daemon), so it is a label of the tier's metrics, not of the target.
const NodeLabel = "node"

// ForNode is reg with the node's id as a constant label of everything registered through it.
func ForNode(reg prometheus.Registerer, node string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{NodeLabel: node}, reg)
}

// BuildInfo is potok_build_info{tier,version,goversion}, always 1: which build each node runs.
func BuildInfo(tier, version string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "potok_build_info",
		Help:        "Always 1: the build a node runs, by tier, version and Go version.",
		ConstLabels: prometheus.Labels{"tier": tier, "version": version, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Tee registers every collector with each of regs: what several nodes of one process share (the
// all-in-one's NATS connection) is exported once per node, under each node's label.
func Tee(regs ...prometheus.Registerer) prometheus.Registerer {
	if len(regs) == 1 {
		return regs[0]
	}
	return tee(regs)
}

type tee []prometheus.Registerer

func (t tee) Register(c prometheus.Collector) error {
	var errs []error
	for _, r := range t {
		errs = append(errs, r.Register(c))
	}
	return errors.Join(errs...)
}

func (t tee) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t tee) Unregister(c prometheus.Collector) bool {
	ok := true
	for _, r := range t {
		ok = r.Unregister(c) && ok
	}
	return ok
}
