// Package bench is `potok bench`: load generators that drive a running Potok (or WCS) server with
// the Go WCS client and report delivery, latency and server CPU. The first is `fanout`: one
// publisher, N players of the same stream.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"
)

// Command runs `potok bench <kind> [flags]`; args start with the kind.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("bench: missing kind; usage: potok bench fanout --url ws://HOST:8080 [flags]")
	}
	if args[0] != "fanout" {
		return fmt.Errorf("bench: unknown kind %q (available: fanout)", args[0])
	}
	o, asJSON, err := parseFanout(args[1:], stderr)
	if err != nil {
		return err
	}
	rep, err := Run(ctx, o, stderr)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.Text())
	return err
}

// parseFanout reads the fanout flags; a bad flag is an error naming it.
func parseFanout(args []string, stderr io.Writer) (Options, bool, error) {
	fs := flag.NewFlagSet("potok bench fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.URL, "url", "", "signalling WebSocket URL, e.g. ws://127.0.0.1:8080 (required)")
	fs.StringVar(&o.MetricsURL, "metrics-url", "", "server Prometheus endpoints, comma-separated (one per server process: signal, each mediad), e.g. http://127.0.0.1:8081/metrics (for CPU per packet)")
	fs.IntVar(&o.Subscribers, "subscribers", 10, "number of players")
	fs.IntVar(&o.Bitrate, "bitrate", 1_000_000, "publisher video bitrate, bit/s")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run once the publisher is PUBLISHING")
	fs.IntVar(&o.FPS, "fps", 30, "publisher frames per second")
	fs.IntVar(&o.Width, "width", 640, "video width written in key frame headers")
	fs.IntVar(&o.Height, "height", 480, "video height written in key frame headers")
	fs.StringVar(&o.Name, "name", "", "stream name (default bench-<random>)")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "players connecting at the same time")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("bench fanout: unexpected argument %q", fs.Arg(0))
	}
	if o.Name == "" {
		o.Name = randomName()
	}
	return o, *asJSON, o.validate()
}

// validate explains the first bad option.
func (o Options) validate() error {
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		return errors.New("bench fanout: --url is required (e.g. ws://127.0.0.1:8080)")
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
		return fmt.Errorf("bench fanout: --url %q must be ws://host:port or wss://host:port", o.URL)
	case o.MetricsURL != "" && !validHTTP(o.MetricsURL):
		return fmt.Errorf("bench fanout: --metrics-url %q must be an http(s) URL", o.MetricsURL)
	case o.Subscribers < 1 || o.Subscribers > 10000:
		return fmt.Errorf("bench fanout: --subscribers %d must be 1..10000", o.Subscribers)
	case o.Bitrate < 8_000 || o.Bitrate > 100_000_000:
		return fmt.Errorf("bench fanout: --bitrate %d must be 8000..100000000 bit/s", o.Bitrate)
	case o.Duration <= 0:
		return fmt.Errorf("bench fanout: --duration %s must be positive", o.Duration)
	case o.FPS < 1 || o.FPS > 120:
		return fmt.Errorf("bench fanout: --fps %d must be 1..120", o.FPS)
	case o.Width < 16 || o.Width > 16383 || o.Height < 16 || o.Height > 16383:
		return fmt.Errorf("bench fanout: --width/--height %dx%d must be 16..16383", o.Width, o.Height)
	case o.Name == "":
		return errors.New("bench fanout: --name must not be empty")
	case o.Concurrency < 1 || o.Concurrency > 1000:
		return fmt.Errorf("bench fanout: --concurrency %d must be 1..1000", o.Concurrency)
	}
	return nil
}

func validHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func randomName() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}
