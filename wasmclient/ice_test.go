//go:build !js

package wasmclient

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

// TestControllingAgentNominatesWithoutTicker pins the change Potok carries in third_party/pion-ice
// (see POTOK.md there): a controlling agent nominates the best pair as soon as its own check of it
// succeeds. Potok's media server is ICE-lite and never sends checks, so without the change this
// client's agent nominates only on its next check tick, 200 ms later on every join. Which path
// nominated is read from the agent's trace log (its check loop would nominate too, at the latest
// on its 2 s tick, so connecting alone proves nothing); the wait bound is liveness, not speed.
func TestControllingAgentNominatesWithoutTicker(t *testing.T) {
	var clientLog lockedBuffer
	logs := logging.NewDefaultLoggerFactory()
	logs.Writer, logs.DefaultLogLevel = &clientLog, logging.LogLevelTrace
	loopback := []ice.AgentOption{
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithIncludeLoopback(),
		ice.WithIPFilter(func(ip net.IP) bool { return ip.IsLoopback() }),
	}
	newAgent := func(opts ...ice.AgentOption) *ice.Agent {
		t.Helper()
		a, err := ice.NewAgentWithOptions(append(opts, loopback...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	client := newAgent(ice.WithLoggerFactory(logs))
	server := newAgent(ice.WithICELite(true))

	// Every candidate is in place before the checks start, so no late candidate wakes the client's
	// check loop. The server learns the client as peer-reflexive, as Potok's does.
	gathered := func(a *ice.Agent, onHost func(ice.Candidate)) {
		t.Helper()
		done := make(chan struct{})
		if err := a.OnCandidate(func(c ice.Candidate) {
			if c == nil {
				close(done)
			} else {
				onHost(c)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.GatherCandidates(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("candidate gathering did not complete")
		}
	}
	var serverHost []ice.Candidate
	gathered(server, func(c ice.Candidate) { serverHost = append(serverHost, c) })
	gathered(client, func(ice.Candidate) {})
	if len(serverHost) == 0 {
		t.Fatal("the server agent gathered no loopback candidate")
	}
	for _, c := range serverHost {
		if err := client.AddRemoteCandidate(c); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cUfrag, cPwd, err := client.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sUfrag, sPwd, err := server.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	// The connections stay open until the cleanups close the agents: the lite agent is connected
	// (Accept returns) before it has answered the nominating check, and closing it then would
	// leave the client without that answer.
	accepted := make(chan error, 1)
	go func() {
		_, err := server.Accept(ctx, cUfrag, cPwd)
		accepted <- err
	}()
	if _, err := client.Dial(ctx, sUfrag, sPwd); err != nil {
		t.Fatalf("the controlling agent did not connect to the ICE-lite agent: %v\n%s", err, clientLog.String())
	}
	if err := <-accepted; err != nil {
		t.Fatalf("the ICE-lite agent saw no nomination: %v", err)
	}
	// Dial returned once the nomination's response selected the pair, so the line is written.
	trace := clientLog.String()
	if strings.Contains(trace, "Nominatable pair found") || !strings.Contains(trace, "is the best available, nominating it") {
		t.Fatalf("the pair was not nominated from its check's success response but by the check loop:\n%s", trace)
	}
}

// lockedBuffer is an io.Writer shared by the agent's loggers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
