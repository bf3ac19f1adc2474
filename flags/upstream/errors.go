package upstream

import (
	"errors"
	"strconv"
)

// Sentinels of the package. A *StatusError matches ErrDenied, ErrRetriable
// or ErrNotFound with errors.Is, by its status code.
var (
	// ErrNoURL is returned by NewClient without an upstream URL.
	ErrNoURL = errors.New("upstream: no upstream URL")
	// ErrDenied matches an answer of 401 or 403: the token is not (or no
	// longer) accepted upstream.
	ErrDenied = errors.New("upstream: token denied")
	// ErrRetriable matches an answer of 429 or 5xx: the upstream is busy or
	// failing, try again later.
	ErrRetriable = errors.New("upstream: upstream busy or failing")
	// ErrNotFound matches an answer of 404.
	ErrNotFound = errors.New("upstream: not found")
	// ErrNotEventStream is returned by Client.Stream when the upstream
	// answers 200 with something other than text/event-stream.
	ErrNotEventStream = errors.New("upstream: answer is not an event stream")
	// ErrStreamIdle is returned by Client.Stream when nothing, not even a
	// keep-alive comment, arrived within the idle timeout.
	ErrStreamIdle = errors.New("upstream: event stream idle")
	// ErrStreamEnded is returned by Client.Stream when the upstream closed
	// the event stream.
	ErrStreamEnded = errors.New("upstream: event stream ended")
	// ErrNoValidTokens is returned by Edge.Start when startup tokens were
	// given, none of them validated and nothing was restored from
	// persistence (Unleash Edge exits then too).
	ErrNoValidTokens = errors.New("upstream: no valid tokens provided on startup and nothing restored from persistence")
	// ErrStarted is returned by a second Edge.Start.
	ErrStarted = errors.New("upstream: edge already started")
	// ErrNoStore is returned by New without a Store.
	ErrNoStore = errors.New("upstream: no store")
)

// StatusError is an upstream answer with an unexpected HTTP status.
type StatusError struct {
	// Op names the request: "fetching features", "validating tokens", ...
	Op string
	// Code is the HTTP status code.
	Code int
}

// Error describes the failed request.
func (e *StatusError) Error() string {
	return "upstream: " + e.Op + ": status " + strconv.Itoa(e.Code)
}

// Is maps the status code onto ErrDenied (401, 403), ErrRetriable (429,
// 5xx) and ErrNotFound (404).
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrDenied:
		return e.Code == 401 || e.Code == 403
	case ErrRetriable:
		return e.Code == 429 || e.Code >= 500
	case ErrNotFound:
		return e.Code == 404
	}
	return false
}
