// Command potok is the one Potok binary: the all-in-one server (default), the signal and mediad
// tiers as separate processes, the load generator, the management commands (apps, users) and the
// version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient/bench"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `potok — a WCS 5.x compatible WebRTC media server

Usage:
  potok [flags]            all-in-one: embedded NATS, one signal and one mediad (the default)
  potok signal [flags]     the signalling tier alone (needs --nats)
  potok mediad [flags]     a media daemon alone (needs --nats)
  potok bench fanout ...   load generator against a running server
  potok apps ...           the cluster's applications, through a node's REST API
  potok users ...          the REST API users of production mode (--rest-auth)
  potok version            print the version

Run "potok <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal, restore the default handling: a second SIGTERM or Ctrl-C ends a
	// graceful shutdown that hangs.
	go func() { <-ctx.Done(); stop() }()
	var err error
	switch cmd {
	case "":
		err = serve(ctx, "potok", args, roleAll, stderr)
	case "signal":
		err = serve(ctx, "potok signal", args, roleSignal, stderr)
	case "mediad":
		err = serve(ctx, "potok mediad", args, roleMediad, stderr)
	case "bench":
		err = bench.Command(ctx, args, stdout, stderr)
	case "apps":
		err = appsCommand(ctx, args, stdout, stderr)
	case "users":
		err = usersCommand(args, os.Stdin, stdout, stderr)
	case "version":
		printVersion(stdout)
	case "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "potok: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "potok: %v\n", err)
		return 1
	}
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "potok %s (WCS protocol %s)\n", version, wcs.Version)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(w, "go %s\n", bi.GoVersion)
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/pion/webrtc/v4", "github.com/nats-io/nats-server/v2", "github.com/coder/websocket":
				fmt.Fprintf(w, "%s %s\n", d.Path, d.Version)
			}
		}
	}
}
