package loop

import (
	"fmt"
	"log/slog"
)

// gnetLogger sends gnet's messages to slog: its informational chatter at
// debug level, warnings and errors as such. It is used on cold paths only.
type gnetLogger struct {
	l   *slog.Logger
	idx int
}

func (g gnetLogger) Debugf(format string, args ...any) {
	g.l.Debug(fmt.Sprintf(format, args...), "engine", g.idx)
}

func (g gnetLogger) Infof(format string, args ...any) {
	g.l.Debug(fmt.Sprintf(format, args...), "engine", g.idx)
}

func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn(fmt.Sprintf(format, args...), "engine", g.idx)
}

func (g gnetLogger) Errorf(format string, args ...any) {
	g.l.Error(fmt.Sprintf(format, args...), "engine", g.idx)
}

func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error(fmt.Sprintf(format, args...), "engine", g.idx)
}
