package bus

import (
	"context"
	"testing"
	"time"

	"github.com/potok-media/potok/api/control"
)

// Released names leave delete markers; the sweep removes old ones and never a live claim, even one
// made again on the same key after its marker.
func TestPurgeStreamTombstones(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := emb.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir, err := OpenDirectory(ctx, nc.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(name string) uint64 {
		rev, err := dir.Streams.Create(ctx, control.StreamKey(name), []byte(name))
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		return rev
	}
	for _, name := range []string{"a", "b", "c"} {
		rev := claim(name)
		if err := dir.Streams.Delete(ctx, control.StreamKey(name)); err != nil {
			t.Fatalf("release %s (rev %d): %v", name, rev, err)
		}
	}
	claim("b")    // claimed again after its marker
	claim("live") // never released
	n, err := dir.PurgeStreamTombstones(ctx, -time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("purged %d markers, want 2 (a and c)", n)
	}
	st, err := dir.Streams.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Values() != 2 {
		t.Errorf("bucket holds %d messages after the sweep, want 2 (b and live)", st.Values())
	}
	for _, name := range []string{"b", "live"} {
		if e, err := dir.Streams.Get(ctx, control.StreamKey(name)); err != nil || string(e.Value()) != name {
			t.Errorf("claim %s lost by the sweep: %v", name, err)
		}
	}
	claim("a") // a purged name can be claimed again
	// Young markers stay: a minute-old threshold keeps the marker made just now.
	if err := dir.Streams.Delete(ctx, control.StreamKey("a")); err != nil {
		t.Fatal(err)
	}
	if n, err := dir.PurgeStreamTombstones(ctx, time.Minute); err != nil || n != 0 {
		t.Errorf("young marker sweep: %d, %v; want 0", n, err)
	}
}
