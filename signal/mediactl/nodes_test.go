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
	op      jetstream.KeyValueOp // 0 = put
}

func (e entry) Bucket() string     { return control.BucketNodes }
func (e entry) Key() string        { return e.key }
func (e entry) Value() []byte      { return e.value }
func (e entry) Revision() uint64   { return 1 }
func (e entry) Created() time.Time { return e.created }
func (e entry) Delta() uint64      { return 0 }
func (e entry) Operation() jetstream.KeyValueOp {
	if e.op == 0 {
		return jetstream.KeyValuePut
	}
	return e.op
}

// record delivers a heartbeat of node (kind) written at `at`, as the watcher would at `at`.
func record(v *nodeView, node, kind string, at time.Time) {
	body, _ := json.Marshal(control.NodeRecord{ID: node, Kind: kind, Started: 1})
	v.heard(at)
	_, _ = v.apply(entry{key: control.NodeKey(node), value: body, created: at}, zerolog.Nop())
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
		if id, ok := v.pick(at(7.5), t0, ""); !ok || id != "md" {
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

// A signal node whose record is older than NodeTTL is reported dead once (its names are freed
// then); the signal node that keeps heartbeating is not.
func TestDeadSignalsReportedOnceAfterTTL(t *testing.T) {
	t0 := time.Unix(1000, 0)
	v := newNodeView()
	record(v, "dead", control.KindSignal, t0)
	for s := time.Duration(0); s <= control.NodeTTL; s += time.Second {
		record(v, "live", control.KindSignal, t0.Add(s))
		if dead := v.deadSignals(t0.Add(s), t0); len(dead) != 0 {
			t.Fatalf("at +%v: dead %v, want nobody yet", s, dead)
		}
	}
	at := t0.Add(control.NodeTTL + 250*time.Millisecond)
	record(v, "live", control.KindSignal, at)
	if dead := v.deadSignals(at, t0); len(dead) != 1 || dead[0].ID != "dead" {
		t.Fatalf("past the TTL: dead %v, want the silent node", dead)
	}
	if dead := v.deadSignals(at.Add(time.Second), t0); len(dead) != 0 {
		t.Fatalf("reported again: %v", dead)
	}
}

// A draining media daemon takes no new session but is not down: its streams go on.
func TestDrainingMediadNotPlacedNotDown(t *testing.T) {
	t0 := time.Unix(1000, 0)
	v := newNodeView()
	body, _ := json.Marshal(control.NodeRecord{ID: "md", Kind: control.KindMediad, Started: 1, Draining: true})
	v.heard(t0)
	_, _ = v.apply(entry{key: control.NodeKey("md"), value: body, created: t0}, zerolog.Nop())
	if id, ok := v.pick(t0, t0, ""); ok {
		t.Fatalf("picked draining %q", id)
	}
	if n := v.liveMediads(t0, t0); n != 0 {
		t.Fatalf("liveMediads = %d with only a draining daemon, want 0", n)
	}
	if !v.aliveAs("md", control.KindMediad, 1, t0, t0) || len(v.sweep(t0, t0)) != 0 {
		t.Fatal("a draining daemon counts as down")
	}
}

// A media daemon judged down and heard again in the same life is reported back (its stale media
// sessions are then reconciled), once, and is placeable again; one back in a new life is not
// (it remembers nothing).
func TestMediadBackAfterJudgedDown(t *testing.T) {
	t0 := time.Unix(1000, 0)
	v := newNodeView()
	put := func(started int64, at time.Time) (gone, back string) {
		body, _ := json.Marshal(control.NodeRecord{ID: "md", Kind: control.KindMediad, Started: started})
		v.heard(at)
		return v.apply(entry{key: control.NodeKey("md"), value: body, created: at}, zerolog.Nop())
	}
	if _, back := put(1, t0); back != "" {
		t.Fatalf("a first record reported back: %q", back)
	}
	late := t0.Add(control.NodeDownAfter + time.Second)
	for at := t0; !at.After(late); at = at.Add(250 * time.Millisecond) {
		record(v, "other", control.KindSignal, at) // the watcher delivers meanwhile
	}
	if down := v.sweep(late, t0); len(down) != 1 || down[0] != "md" {
		t.Fatalf("sweep = %v, want md down", down)
	}
	if _, back := put(1, late); back != "md" {
		t.Fatalf("heard again after judged down: back = %q, want md", back)
	}
	if id, ok := v.pick(late, t0, ""); !ok || id != "md" {
		t.Fatalf("pick = %q %v, want md placeable again", id, ok)
	}
	if _, back := put(1, late.Add(time.Second)); back != "" {
		t.Fatalf("reported back twice: %q", back)
	}
	later := late.Add(2 * control.NodeDownAfter)
	for at := late; !at.After(later); at = at.Add(250 * time.Millisecond) {
		record(v, "other", control.KindSignal, at)
	}
	if down := v.sweep(later, t0); len(down) != 1 {
		t.Fatalf("sweep = %v, want md down again", down)
	}
	if _, back := put(2, later); back != "" {
		t.Fatalf("a restarted daemon reported back: %q", back)
	}
}

// A media daemon whose record is deleted while it says Draining left at the end of its drain; one
// deleted without draining (or back since) did not.
func TestLeftDrained(t *testing.T) {
	t0 := time.Unix(1000, 0)
	v := newNodeView()
	put := func(draining bool) {
		body, _ := json.Marshal(control.NodeRecord{ID: "md", Kind: control.KindMediad, Started: 1, Draining: draining})
		v.heard(t0)
		_, _ = v.apply(entry{key: control.NodeKey("md"), value: body, created: t0}, zerolog.Nop())
	}
	del := func() {
		_, _ = v.apply(entry{key: control.NodeKey("md"), op: jetstream.KeyValueDelete, created: t0}, zerolog.Nop())
	}
	put(false)
	del()
	if v.leftDrained("md") {
		t.Fatal("a daemon deleted without draining counts as drained")
	}
	put(true)
	del()
	if !v.leftDrained("md") {
		t.Fatal("a daemon deleted while draining does not count as drained")
	}
	put(false)
	if v.leftDrained("md") {
		t.Fatal("a daemon back after its drain still counts as drained")
	}
}
