package rtc

import (
	"fmt"

	"github.com/pion/logging"
	"github.com/rs/zerolog"
)

// pionLogs routes pion's logs into zerolog, one level down: pion's info is chatty (every candidate
// pair), its warnings are mostly transient (RTCP sent before DTLS is up), and its errors concern one
// peer connection, which the daemon reports itself.
type pionLogs struct{ log zerolog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With().Str("pion", scope).Logger()}
}

type pionLogger struct{ log zerolog.Logger }

func (l pionLogger) Trace(msg string)                  {}
func (l pionLogger) Tracef(format string, args ...any) {}
func (l pionLogger) Debug(msg string)                  { l.log.Trace().Msg(msg) }
func (l pionLogger) Debugf(format string, args ...any) {
	l.log.Trace().Msg(fmt.Sprintf(format, args...))
}
func (l pionLogger) Info(msg string) { l.log.Debug().Msg(msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.log.Debug().Msg(fmt.Sprintf(format, args...))
}
func (l pionLogger) Warn(msg string) { l.log.Debug().Msg(msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.log.Debug().Msg(fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.log.Warn().Msg(msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.log.Warn().Msg(fmt.Sprintf(format, args...))
}
