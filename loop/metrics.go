package loop

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics, summed over the Servers of the process.
var (
	openConns = new(atomic.Int64)
	_         = metrics.NewGauge(`brink_loop_connections`, func() float64 { return float64(openConns.Load()) })
	accepted  = metrics.NewCounter(`brink_loop_accepted_total`)

	rejectedMaxConns = metrics.NewCounter(`brink_loop_rejected_total{reason="max_connections"}`)
	rejectedShutdown = metrics.NewCounter(`brink_loop_rejected_total{reason="shutdown"}`)

	timeoutReadHeader = metrics.NewCounter(`brink_loop_timeouts_total{kind="read_header"}`)
	timeoutIdle       = metrics.NewCounter(`brink_loop_timeouts_total{kind="idle"}`)
	backlogCloses     = metrics.NewCounter(`brink_loop_backlog_closes_total`)
	captureErrors     = metrics.NewCounter(`brink_loop_capture_errors_total`)

	// Outbound connections (Conn.Dial).
	outOpen       = new(atomic.Int64)
	_             = metrics.NewGauge(`brink_loop_out_connections`, func() float64 { return float64(outOpen.Load()) })
	outDials      = metrics.NewCounter(`brink_loop_out_dials_total`)
	outDialErrors = metrics.NewCounter(`brink_loop_out_dial_errors_total`)

	// Closes asked by the handler: at once (nothing from the client was
	// pending) or after a lingering FIN.
	lingerSkipped = metrics.NewCounter(`brink_loop_handler_closes_total{kind="at_once"}`)
	lingered      = metrics.NewCounter(`brink_loop_handler_closes_total{kind="linger"}`)
)
