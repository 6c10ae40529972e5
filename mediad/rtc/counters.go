package rtc

import (
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// RTCPCounters counts the feedback one peer connection sends to its remote peer; for a publisher
// these are the NACKs the generator asks for, reported as "nack" in inboundVideoRate (§C.18).
type RTCPCounters struct {
	NACKsSent atomic.Int64
	PLIsSent  atomic.Int64
}

// counterFactory builds the interceptor that feeds one RTCPCounters.
type counterFactory struct{ c *RTCPCounters }

func (f counterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &counterInterceptor{c: f.c}, nil
}

type counterInterceptor struct {
	interceptor.NoOp
	c *RTCPCounters
}

func (i *counterInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.TransportLayerNack:
				i.c.NACKsSent.Add(1)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				i.c.PLIsSent.Add(1)
			}
		}
		return w.Write(pkts, attrs)
	})
}
