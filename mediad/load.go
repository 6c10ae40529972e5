package mediad

import (
	"sync"
	"syscall"
	"time"

	"github.com/potok-media/potok/api/control"
)

// loadMeter measures what the daemon carries between two heartbeats, for its node record
// (control.Load): signal places publishers on the least loaded daemon and players past the
// origin's limit on another. Rates are over the interval since the last measurement.
type loadMeter struct {
	mu                sync.Mutex
	at                time.Time
	packetsIn, pktOut float64
	cpu               time.Duration
}

// measure returns the daemon's load now.
func (d *Daemon) measure() control.Load {
	d.mu.Lock()
	l := control.Load{Relays: len(d.relays), Pulls: len(d.pulls)}
	for _, st := range d.streams {
		l.Tracks += len(st.tracks)
	}
	d.mu.Unlock()
	l.PeerConnections = int(d.pcs.Load())
	in, out := d.met.forward.Packets()
	cpu := processCPU()
	m := &d.load
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if dt := now.Sub(m.at).Seconds(); !m.at.IsZero() && dt > 0 {
		l.PacketsIn = (in - m.packetsIn) / dt
		l.PacketsOut = (out - m.pktOut) / dt
		l.CPU = (cpu - m.cpu).Seconds() / dt
	}
	m.at, m.packetsIn, m.pktOut, m.cpu = now, in, out, cpu
	return l
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
