package scenario

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// Relays between media daemons (issue 8, item 3): past the origin's limit of players per stream,
// players are placed on another daemon, which pulls the stream from the origin once and serves
// all its players of it from that one relay.

// relayCluster has two media daemons that each take at most max players per stream.
func relayCluster(t *testing.T, max int, o cluster.Options) *cluster.Cluster {
	t.Helper()
	o.Mediads = 2
	o.Mediad = func(cfg *mediad.Config) { cfg.MaxPlayersPerStream = max }
	return cluster.Start(t, o)
}

// originOf is the media daemon holding name's publisher, and the other one.
func originOf(t *testing.T, c *cluster.Cluster, name string) (origin, edge *mediad.Daemon) {
	t.Helper()
	for i, d := range c.Mediads {
		if d.Publishes(name) {
			return d, c.Mediads[1-i]
		}
	}
	t.Fatalf("no media daemon publishes %s", name)
	return nil, nil
}

// TestRelayPastTheOriginsLimit: with a limit of 2 players per stream, 6 players of one stream all
// receive video: 2 from the origin, 4 from the other daemon through one shared relay. The relay
// goes after the last of its players; a publisher's stop ends the relayed players as it ends the
// origin's ("Stopped by publisher stop", docs/protocol.md §E.4).
func TestRelayPastTheOriginsLimit(t *testing.T) {
	t.Parallel()
	c := relayCluster(t, 2, cluster.Options{})
	name := streamName("relayed")
	pub := publishSynthetic(t, connect(t, Target{WSURL: c.WSURL}), name, wcs.StatusPublishing)
	origin, edge := originOf(t, c, name)

	var players []*wasmclient.Stream
	var firstPacket []time.Duration
	for range 6 {
		start := time.Now()
		p := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 0 }, "first video packet")
		firstPacket = append(firstPacket, time.Since(start))
		players = append(players, p)
	}
	for _, p := range players {
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 30 }, "video through the relay or the origin")
	}
	if n := origin.Players(name); n != 3 { // 2 players and the relay
		t.Errorf("origin serves %d sessions of %s, want 2 players and 1 relay", n, name)
	}
	if n := edge.Players(name); n != 4 {
		t.Errorf("edge serves %d players of %s, want 4", n, name)
	}
	if n := edge.Relays(); n != 1 {
		t.Errorf("edge holds %d relays, want 1 shared by its 4 players", n)
	}
	checkRoutes(t, c, name, origin.NodeID(), edge.NodeID(), 4)
	t.Logf("MEASURED first video packet at the player: direct %v %v, relayed (first sets the relay up) %v, then %v %v %v",
		firstPacket[0].Round(time.Millisecond), firstPacket[1].Round(time.Millisecond), firstPacket[2].Round(time.Millisecond),
		firstPacket[3].Round(time.Millisecond), firstPacket[4].Round(time.Millisecond), firstPacket[5].Round(time.Millisecond))

	// The relay lives as long as one of its players.
	for _, p := range players[2:5] {
		stop(t, p, wcs.StatusStopped)
	}
	if n := edge.Relays(); n != 1 {
		t.Errorf("edge holds %d relays with one player left, want 1", n)
	}
	stop(t, players[5], wcs.StatusStopped)
	testwait.Until(t, 10*time.Second, "the idle relay torn down at both ends", func() bool {
		return edge.Relays() == 0 && origin.Players(name) == 2
	})

	// A new relayed player starts a new relay; the publisher's stop ends it and its players.
	p := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through a second relay")
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, p, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	waitTerminal(t, players[0], wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	testwait.Until(t, 10*time.Second, "no relay and no peer connection left", func() bool {
		return edge.Relays() == 0 && c.PeerConnections() == 0
	})
}

// TestRelayPreferredMediad: a signal node that prefers a media daemon (one beside it) serves its
// players from that one, relayed from the origin whatever the origin's load; stream events of the
// publisher reach the relayed players (docs/protocol.md §B.10).
func TestRelayPreferredMediad(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.Options{Mediads: 2,
		Signal: func(cfg *signal.Config) { cfg.PreferMediad = "mediad-1" }})
	s := connect(t, Target{WSURL: c.WSURL})
	// Placement spreads publishers: of two, one lands on mediad-0, the other daemon.
	var name string
	var pub *wasmclient.Stream
	for range 2 {
		n := streamName("local")
		st := publishSynthetic(t, s, n, wcs.StatusPublishing)
		if c.Mediads[0].Publishes(n) {
			name, pub = n, st
		}
	}
	if pub == nil {
		t.Fatal("neither publisher was placed on mediad-0")
	}
	player := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the preferred daemon")
	if c.Mediads[1].Players(name) != 1 || c.Mediads[1].Relays() != 1 {
		t.Errorf("mediad-1 serves %d players through %d relays, want 1 and 1", c.Mediads[1].Players(name), c.Mediads[1].Relays())
	}
	if err := pub.SendEvent(ctx(t), wcs.EventData, []byte(`{"hello":"edge"}`)); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "the stream event at the relayed player", func() bool {
		for _, ev := range player.StreamEvents() {
			if ev.Type == wcs.EventData && string(ev.Payload) == `{"hello":"edge"}` {
				return true
			}
		}
		return false
	})
}

// TestRelayOriginLost: when the origin daemon goes, the relayed players end as the origin's own
// players do, and the edge drops the relay. (A killed origin: testkit/scenario's process tests.)
func TestRelayOriginLost(t *testing.T) {
	t.Parallel()
	c := relayCluster(t, 1, cluster.Options{})
	name := streamName("orphaned")
	publishSynthetic(t, connect(t, Target{WSURL: c.WSURL}), name, wcs.StatusPublishing)
	origin, edge := originOf(t, c, name)
	direct := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	relayed := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, relayed, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the relay")
	if edge.Relays() != 1 {
		t.Fatalf("edge holds %d relays, want 1", edge.Relays())
	}
	killed := time.Now()
	if err := origin.Close(); err != nil {
		t.Fatal(err)
	}
	// A daemon that closes stops its publishers, and its own players hear that first ("Stopped by
	// publisher stop") or the daemon's loss ("Media server lost"), whichever comes first; the
	// relayed players hear the same.
	d, err := direct.WaitStatus(ctx(t), wcs.StatusFailed)
	if err != nil {
		t.Fatal(err)
	}
	r, err := relayed.WaitStatus(ctx(t), wcs.StatusFailed)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURED origin closed: relayed player FAILED %q after %v (direct: %q)", r.Info,
		time.Since(killed).Round(time.Millisecond), d.Info)
	for _, info := range []string{d.Info, r.Info} {
		if info != wcs.InfoStoppedByPublisherStop && info != wcs.InfoMediaNodeLost {
			t.Errorf("a player of the closed origin ended %q", info)
		}
	}
	testwait.Until(t, 10*time.Second, "the edge dropped the relay", func() bool { return edge.Relays() == 0 })
}

// checkRoutes asks the REST API where name is relayed (docs/protocol.md §G.2, /cdn/*): one route
// from origin to edge, serving players there.
func checkRoutes(t *testing.T, c *cluster.Cluster, name, origin, edge string, players int) {
	t.Helper()
	var all map[string]string
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/cdn/show_routes", `{}`, &all); code != http.StatusOK {
		t.Fatalf("cdn/show_routes: %d", code)
	}
	want := origin + "-" + edge + "-1"
	if len(all) != 1 || all[want] != name {
		t.Errorf("cdn/show_routes = %v, want {%q: %q}", all, want, name)
	}
	var one rest.StreamRoutes
	body, _ := json.Marshal(rest.StreamName{StreamName: name})
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/cdn/stream/show_routes", string(body), &one); code != http.StatusOK {
		t.Fatalf("cdn/stream/show_routes: %d", code)
	}
	if one.Origin != origin || len(one.Relays) != 1 || one.Relays[0].Node != edge || one.Relays[0].Players != players {
		t.Errorf("cdn/stream/show_routes = %+v, want origin %s, one relay on %s with %d players", one, origin, edge, players)
	}
}

// restPost posts body to url and decodes a 200 answer into out (nil: a void answer).
func restPost(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestRelayOriginKilled: kill -9 of a stream's origin, with one player on it and one relayed by
// the other daemon: both players end "Media server lost" — the direct one told by the signal
// node, the relayed one by its edge, which judges the origin dead after the same 5 s of silence
// (control.NodeDownAfter) and drops the relay (issue 8, item 6).
func TestRelayOriginKilled(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 2, "--max-players-per-stream", "1")
	tg := Target{WSURL: c.wsURL}
	name := streamName("origin-killed")
	publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	direct := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	relayed := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, relayed, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the relay")
	origin, edge := -1, -1
	for i := range c.mediads {
		switch c.mediadPeers(t, i) {
		case 3: // publisher, direct player, relay
			origin = i
		case 2: // relay, relayed player
			edge = i
		}
	}
	if origin < 0 || edge < 0 {
		t.Fatalf("peer connections %d and %d, want 3 on the origin and 2 on the edge", c.mediadPeers(t, 0), c.mediadPeers(t, 1))
	}
	killed := time.Now()
	if err := c.mediads[origin].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*wasmclient.Stream{direct, relayed} {
		obj, err := st.WaitStatus(ctx(t), wcs.StatusFailed)
		if err != nil || obj.Info != wcs.InfoMediaNodeLost {
			t.Fatalf("player: %s %q (%v), want FAILED %q", obj.Status, obj.Info, err, wcs.InfoMediaNodeLost)
		}
	}
	t.Logf("MEASURED origin killed: direct player FAILED after %v, relayed player after %v",
		direct.Timeline().Ended.Sub(killed).Round(time.Millisecond), relayed.Timeline().Ended.Sub(killed).Round(time.Millisecond))
	testwait.Until(t, 10*time.Second, "the edge without relay or peer connection", func() bool {
		return scrapeGauge(t, c.mdHTTP[edge]+"/metrics", "potok_mediad_relays") == 0 && c.mediadPeers(t, edge) == 0
	})
}

// TestRelayTwentyPlayers: real processes, three media daemons taking 4 players per stream on its
// origin: 20 players of one stream all receive video — 4 from the origin, the other 16 from the
// two other daemons, each through its one relay of the stream (issue 8, "20 players spread past
// the origin's limit").
func TestRelayTwentyPlayers(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 3, "--max-players-per-stream", "4")
	tg := Target{WSURL: c.wsURL}
	name := streamName("twenty")
	publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	players := make([]*wasmclient.Stream, 20)
	for i := range players {
		players[i] = play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	}
	for _, p := range players {
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 30 }, "video at every player")
	}
	var relays []int
	origin := -1
	for i := range c.mediads {
		r := int(scrapeGauge(t, c.mdHTTP[i]+"/metrics", "potok_mediad_relays"))
		relays = append(relays, r)
		if r == 0 {
			origin = i
		}
	}
	if origin < 0 {
		t.Fatalf("relays per daemon %v: want the origin without any", relays)
	}
	for i, r := range relays {
		if i != origin && r != 1 {
			t.Errorf("%s holds %d relays of the one stream, want 1 shared by its players (relays per daemon %v)", c.mediadID[i], r, relays)
		}
	}
	// The origin: the publisher, its 4 players and one relay per other daemon.
	if n := c.mediadPeers(t, origin); n != 1+4+2 {
		t.Errorf("the origin has %d peer connections, want 7 (publisher, 4 players, 2 relays)", n)
	}
}
