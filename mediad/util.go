package mediad

import (
	"errors"
	"strings"
	"sync/atomic"
)

var errNoMedia = errors.New("mediad: no media to forward")

// uint32Box holds a publisher track's SSRC, set once by OnTrack.
type uint32Box struct{ v atomic.Uint32 }

func (b *uint32Box) load() uint32 { return b.v.Load() }

// store sets the SSRC the first time; a second track of the same kind is refused.
func (b *uint32Box) store(v uint32) bool { return b.v.CompareAndSwap(0, v) }

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
