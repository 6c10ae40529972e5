package sipua

import (
	"bytes"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Malformed SIP (issue 11: "leaves Potok serving and logs it"): a datagram that does not parse is
// dropped before sipgo sees it, counted and logged with where it came from; a TCP stream sipgo
// cannot frame is closed by sipgo, and counted and logged through its log (slogger). Nothing is
// answered: a message that does not parse has no headers to answer with.

// NameMalformed is the counter of malformed SIP messages received, by transport.
const NameMalformed = "potok_signal_sip_malformed_total"

// malformedLogBurst bounds the log lines about malformed SIP: a scan or a flood must not flood
// the log too; the counter still counts every one.
const malformedLogBurst = 10

type malformed struct {
	count *prometheus.CounterVec
	log   zerolog.Logger
	p     *sip.Parser
}

func newMalformed(reg prometheus.Registerer, log zerolog.Logger) (*malformed, error) {
	m := &malformed{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameMalformed,
			Help: "SIP messages received that did not parse and were dropped (UDP) or closed their connection (TCP), by transport."},
			[]string{"transport"}),
		log: log.Sample(&zerolog.BurstSampler{Burst: malformedLogBurst, Period: time.Second}),
		p:   sip.NewParser(),
	}
	m.count.WithLabelValues("udp")
	m.count.WithLabelValues("tcp")
	if reg != nil {
		if err := reg.Register(m.count); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// report counts and logs one malformed message.
func (m *malformed) report(transport, from, reason string, size int) {
	m.count.WithLabelValues(transport).Inc()
	ev := m.log.Info().Str("transport", transport).Str("reason", reason)
	if from != "" {
		ev = ev.Str("from", from)
	}
	if size > 0 {
		ev = ev.Int("bytes", size)
	}
	ev.Msg("malformed SIP message dropped")
}

// filter is sipgo's read filter: a UDP datagram that does not parse is reported and dropped (an
// empty result). TCP reads are parts of a stream, which only sipgo's stream parser can frame;
// they pass. The datagram is parsed twice, here and by sipgo: SIP's rates make that cheap, and
// sipgo would otherwise log the whole datagram at error level without its sender.
func (m *malformed) filter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	if info.Transport != "UDP" || len(bytes.Trim(data, "\r\n")) == 0 { // keep-alives
		return data, nil
	}
	if _, err := m.p.ParseSIP(data); err != nil {
		from := ""
		if info.RemoteAddr != nil {
			from = info.RemoteAddr.String()
		}
		m.report("udp", from, err.Error(), len(data))
		return nil, nil
	}
	return data, nil
}
