package api

import (
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// statusClass indexes the pre-registered status label values.
type statusClass uint8

const (
	status200 statusClass = iota
	status202
	status204
	status304
	status400
	status401
	status403
	status404
	status405
	status500
	status503
	status511
	statusOther
	numStatus
)

var statusLabel = [numStatus]string{"200", "202", "204", "304", "400", "401", "403", "404", "405", "500", "503", "511", "other"}

func classOf(code int) statusClass {
	switch code {
	case 200:
		return status200
	case 202:
		return status202
	case 204:
		return status204
	case 304:
		return status304
	case 400:
		return status400
	case 401:
		return status401
	case 403:
		return status403
	case 404:
		return status404
	case 405:
		return status405
	case 500:
		return status500
	case 503:
		return status503
	case 511:
		return status511
	}
	return statusOther
}

// Package-level series, registered once in the default metrics set so the
// request path only increments them.
var (
	// requests is brink_http_requests_total{path, status}.
	requests [numRoutes][numStatus]*metrics.Counter
	// durations is brink_http_request_duration_seconds{path}.
	durations [numRoutes]*metrics.PrometheusHistogram
	// rejections is brink_api_rejections_total{reason}.
	rejections [numReasons]*metrics.Counter

	featureCacheHits   = metrics.NewCounter(`brink_api_feature_cache_total{result="hit"}`)
	featureCacheMisses = metrics.NewCounter(`brink_api_feature_cache_total{result="miss"}`)
	sdkReports         = metrics.NewCounter(`brink_api_sdk_metrics_reports_total`)
	sdkRegistrations   = metrics.NewCounter(`brink_api_sdk_registrations_total`)
	sdkDropped         = metrics.NewCounter(`brink_api_sdk_metrics_dropped_total`)

	// frontendEvaluations is brink_flag_evaluations_total{api="frontend"}:
	// the toggles brink evaluated for frontend (and proxy) answers, every
	// toggle of the token's scope for a list answer (disabled ones are
	// evaluated too, even when the answer leaves them out), one for a
	// single-feature answer.
	frontendEvaluations = metrics.NewCounter(`brink_flag_evaluations_total{api="frontend"}`)
	// clientDefinitions is brink_flag_definitions_served_total{api="client"}:
	// the feature definitions sent in client API answers (304s excluded).
	// Server-side SDKs evaluate those themselves, so they are counted apart
	// from brink's own evaluations; the SDKs' evaluation counts arrive in
	// their metrics reports.
	clientDefinitions = metrics.NewCounter(`brink_flag_definitions_served_total{api="client"}`)
)

// countEvaluations counts the n toggles evaluated for one frontend answer:
// one atomic add per request, not one per toggle.
func countEvaluations(n int) { frontendEvaluations.Add(n) }

// countDefinitions counts the n feature definitions of one client answer.
func countDefinitions(n int) { clientDefinitions.Add(n) }

var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

func init() {
	for r := range numRoutes {
		label := routes[r].label
		for s := range numStatus {
			requests[r][s] = metrics.NewCounter(fmt.Sprintf(`brink_http_requests_total{path=%q,status=%q}`, label, statusLabel[s]))
		}
		durations[r] = metrics.NewPrometheusHistogramExt(fmt.Sprintf(`brink_http_request_duration_seconds{path=%q}`, label), durationBuckets)
	}
	for w := range numReasons {
		rejections[w] = metrics.NewCounter(fmt.Sprintf(`brink_api_rejections_total{reason=%q}`, reasonLabel[w]))
	}
}

// observe counts a finished request.
func observe(rt route, code int, start time.Time) {
	requests[rt][classOf(code)].Inc()
	durations[rt].Update(time.Since(start).Seconds())
}
