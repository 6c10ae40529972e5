package mediactl

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
)

type entry struct {
	key     string
	value   []byte
	created time.Time
}

func (e entry) Bucket() string                  { return control.BucketNodes }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.value }
func (e entry) Revision() uint64                { return 1 }
func (e entry) Created() time.Time              { return e.created }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

// record delivers a heartbeat of node (kind) written at `at`, as the watcher would at `at`.
func record(v *nodeView, node, kind string, at time.Time) {
	body, _ := json.Marshal(control.NodeRecord{ID: node, Kind: kind, Started: 1})
	v.heard(at)
	v.apply(entry{key: control.NodeKey(node), value: body, created: at}, zerolog.Nop())
}

// A media daemon that stops heartbeating is down NodeDownAfter later while the watcher keeps
// delivering (this node's own records), and not while the watcher delivers nothing: then its
// silence counts only from when the watcher resumed.
func TestSweepCountsSilenceOnlyWhileTheWatcherDelivers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

	t.Run("watcher delivering", func(t *testing.T) {
		v := newNodeView()
		record(v, "md", control.KindMediad, at(0))
		for s := 1.0; s <= 5; s++ {
			record(v, "sig", control.KindSignal, at(s))
			if down := v.sweep(at(s), t0); len(down) != 0 {
				t.Fatalf("at +%vs: down %v, want nobody yet", s, down)
			}
		}
		if down := v.sweep(at(5.25), t0); len(down) != 1 || down[0] != "md" {
			t.Fatalf("at +5.25s: down %v, want md (silent for more than %v)", down, control.NodeDownAfter)
		}
	})

	t.Run("watcher stalled", func(t *testing.T) {
		v := newNodeView()
		record(v, "md", control.KindMediad, at(0))
		record(v, "sig", control.KindSignal, at(0.5))
		// Nothing delivered from +0.5 s to +8 s: every record looks old, nobody is judged, and
		// placing still finds the daemon.
		for s := 1.0; s < 8; s += 0.5 {
			if down := v.sweep(at(s), t0); len(down) != 0 {
				t.Fatalf("at +%vs with the watcher stalled: down %v", s, down)
			}
		}
		if id, ok := v.pick(at(7.5), t0); !ok || id != "md" {
			t.Fatalf("pick with the watcher stalled: %q %v, want md", id, ok)
		}
		// The watcher resumes at +8 s with this node's record only: md has NodeDownAfter from
		// then.
		record(v, "sig", control.KindSignal, at(8))
		for s := 9.0; s <= 13; s++ {
			record(v, "sig", control.KindSignal, at(s))
			if down := v.sweep(at(s), t0); len(down) != 0 {
				t.Fatalf("at +%vs, %vs after the watcher resumed: down %v", s, s-8, down)
			}
		}
		record(v, "sig", control.KindSignal, at(13.5))
		if down := v.sweep(at(13.5), t0); len(down) != 1 || down[0] != "md" {
			t.Fatalf("5.5 s after the watcher resumed: down %v, want md", down)
		}
	})
}
