package bus

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"

	"github.com/potok-media/potok/testkit/testwait"
)

// startNATSServer runs the nats-server binary (Debian's 2.9 in CI, the version operators run)
// with JetStream on a free loopback port, and stops it when the test ends.
func startNATSServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("POTOK_E2E") != "" {
			t.Fatalf("nats-server is required (scripts/deps.sh installs it): %v", err)
		}
		t.Skip("nats-server not installed; run scripts/deps.sh")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testwait.UntilOK(t, 10*time.Second, "nats-server accepts connections", func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	return "nats://" + addr
}

// TestNodesOpenTheDirectoryAtOnce: every node of a cluster started together opens the directory
// of a fresh server at the same moment. nats-server 2.9 answers the losers of the creation race
// with "subjects overlap with an existing stream" (10065) rather than "bucket exists"; a mediad
// that took it for a refusal exited at start (CI, TestNATSRestart).
func TestNodesOpenTheDirectoryAtOnce(t *testing.T) {
	const nodes, rounds = 6, 4
	for round := range rounds {
		url := startNATSServer(t)
		var wg sync.WaitGroup
		errs := make(chan error, nodes)
		for i := range nodes {
			nc, err := nats.Connect(url, nats.Name(fmt.Sprintf("node-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if _, err := OpenDirectory(ctx, nc, DirectoryConfig{}); err != nil {
					errs <- fmt.Errorf("round %d node %d: %w", round, i, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestForeignStreamOnTheBucketSubjects: a stream that is not our bucket but takes its subjects
// (an operator's own) makes the directory fail to open with a message that says so, not a
// bare JetStream error code, and not a hang.
func TestForeignStreamOnTheBucketSubjects(t *testing.T) {
	nc, err := nats.Connect(startNATSServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "operators_own", Subjects: []string{"$KV." + control.BucketNodes + ".>"},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = OpenDirectory(ctx, nc, DirectoryConfig{})
	if err == nil || !strings.Contains(err.Error(), "another stream on this NATS server holds the subjects") {
		t.Fatalf("OpenDirectory = %v, want the foreign stream named as the cause", err)
	}
	if ctx.Err() != nil {
		t.Fatal("OpenDirectory waited out the deadline instead of refusing")
	}
}
