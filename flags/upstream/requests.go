package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/brink-edge/brink/flags"
)

// FetchFeatures gets /api/client/features for token. etag, when not empty,
// is sent as If-None-Match; a 304 answer returns notModified with newETag
// equal to etag. On 200, cf is the decoded payload, raw its bytes and
// newETag the answer's ETag. Any other status is a *StatusError.
func (c *Client) FetchFeatures(ctx context.Context, token, etag string) (cf *flags.ClientFeatures, raw []byte, newETag string, notModified bool, err error) {
	return c.fetchFeaturesFrom(ctx, token, etag, nil)
}

// fetchFeaturesFrom is FetchFeatures decoding with
// flags.DecodeClientFeaturesFrom(prev, ...): the features unchanged since
// prev, the token's previous answer, are not decoded again.
func (c *Client) fetchFeaturesFrom(ctx context.Context, token, etag string, prev *flags.ClientFeatures) (cf *flags.ClientFeatures, raw []byte, newETag string, notModified bool, err error) {
	var hdr map[string]string
	if etag != "" {
		hdr = map[string]string{"If-None-Match": etag}
	}
	const op = "fetching features"
	resp, data, err := c.do(ctx, op, http.MethodGet, "/api/client/features", token, nil, hdr)
	if err != nil {
		return nil, nil, "", false, err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, nil, etag, true, nil
	case http.StatusOK:
	default:
		return nil, nil, "", false, &StatusError{Op: op, Code: resp.StatusCode}
	}
	cf, err = flags.DecodeClientFeaturesFrom(prev, data)
	if err != nil {
		return nil, nil, "", false, fmt.Errorf("upstream: %s: %w", op, err)
	}
	return cf, data, resp.Header.Get("ETag"), false, nil
}

// validatedToken is one entry of an /edge/validate answer, decoded
// leniently: type names in any case, "backend" for client, a missing
// status meaning validated.
type validatedToken struct {
	Token       string   `json:"token"`
	Type        *string  `json:"type"`
	Environment *string  `json:"environment"`
	Projects    []string `json:"projects"`
	Status      *string  `json:"status"`
}

// ValidateTokens asks the upstream which of tokens are valid (POST
// /edge/validate {"tokens":[...]}, sent without a token) and returns those
// it confirms, with status TokenValidated and their type, environment and
// projects. A token of an unknown type or with a status other than
// "Validated" is left out, so it counts as invalid.
func (c *Client) ValidateTokens(ctx context.Context, tokens []string) ([]flags.Token, error) {
	body, err := json.Marshal(struct {
		Tokens []string `json:"tokens"`
	}{tokens})
	if err != nil {
		return nil, fmt.Errorf("upstream: encoding tokens: %w", err)
	}
	const op = "validating tokens"
	resp, data, err := c.do(ctx, op, http.MethodPost, "/edge/validate", "", body, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Op: op, Code: resp.StatusCode}
	}
	var answer struct {
		Tokens []validatedToken `json:"tokens"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("upstream: %s: decoding the answer: %w", op, err)
	}
	out := make([]flags.Token, 0, len(answer.Tokens))
	for _, v := range answer.Tokens {
		if v.Token == "" || (v.Status != nil && !strings.EqualFold(*v.Status, "validated")) {
			continue
		}
		t := flags.Token{Raw: v.Token, Projects: v.Projects, Status: flags.TokenValidated}
		if v.Type != nil {
			typ, err := flags.ParseTokenType(*v.Type)
			if err != nil {
				c.log.Warn("upstream validated a token of an unknown type; treating it as invalid", "type", *v.Type)
				continue
			}
			t.Type = typ
		}
		if v.Environment != nil {
			t.Environment = *v.Environment
		}
		if p, err := flags.ParseToken(v.Token); err == nil {
			if t.Environment == "" {
				t.Environment = p.Environment
			}
			if len(t.Projects) == 0 {
				t.Projects = p.Projects
			}
		}
		if t.Projects == nil {
			t.Projects = []string{}
		}
		out = append(out, t)
	}
	return out, nil
}

// Registration returns the application this edge registers upstream for
// tok (Unleash Edge's client_application_from_token_and_name), with
// sdkVersion brink:<version>.
func (c *Client) Registration(tok flags.Token, started time.Time) flags.ClientApplication {
	return flags.ClientApplication{
		AppName:      c.cfg.AppName,
		Environment:  tok.Environment,
		Projects:     tok.Projects,
		InstanceID:   c.cfg.InstanceID,
		ConnectionID: c.cfg.ConnectionID,
		Interval:     uint32(c.cfg.Interval.Milliseconds()),
		Started:      started,
		Strategies:   []string{},
		MetricsMetadata: flags.MetricsMetadata{
			SDKVersion: "brink:" + c.cfg.Version,
			SDKType:    "backend",
		},
	}
}

// Register posts app to /api/client/register with token.
func (c *Client) Register(ctx context.Context, token string, app flags.ClientApplication) error {
	body, err := json.Marshal(app)
	if err != nil {
		return fmt.Errorf("upstream: encoding the registration: %w", err)
	}
	_, err = c.post(ctx, "registering", "/api/client/register", token, body)
	return err
}

// PostBulkMetrics posts a bulk metrics body (flags.BulkMetrics JSON) to
// /api/client/metrics/bulk with token. status is the answer's status (0
// when there was none); err is nil for 2xx, a *StatusError for other
// answers, or the transport error.
func (c *Client) PostBulkMetrics(ctx context.Context, token string, body []byte) (status int, err error) {
	return c.post(ctx, "posting metrics", "/api/client/metrics/bulk", token, body)
}

// PostInstanceData posts this edge's instance data (EdgeInstanceData JSON)
// to /api/client/metrics/edge with token; results as PostBulkMetrics.
func (c *Client) PostInstanceData(ctx context.Context, token string, body []byte) (status int, err error) {
	return c.post(ctx, "posting instance data", "/api/client/metrics/edge", token, body)
}

func (c *Client) post(ctx context.Context, op, path, token string, body []byte) (int, error) {
	resp, _, err := c.do(ctx, op, http.MethodPost, path, token, body, nil)
	if err != nil {
		if resp != nil {
			return resp.StatusCode, err
		}
		return 0, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &StatusError{Op: op, Code: resp.StatusCode}
	}
	return resp.StatusCode, nil
}

// FetchDelta gets /api/client/delta for token: the events after
// lastEventID, or a hydration when lastEventID is 0. newID is the id of
// the last event known upstream (the answer's ETag, else the largest event
// id, else lastEventID); notModified reports a 304.
func (c *Client) FetchDelta(ctx context.Context, token string, lastEventID uint32) (d *flags.ClientFeaturesDelta, newID uint32, notModified bool, err error) {
	var hdr map[string]string
	if lastEventID > 0 {
		hdr = map[string]string{"If-None-Match": `"` + strconv.FormatUint(uint64(lastEventID), 10) + `"`}
	}
	const op = "fetching the delta"
	resp, data, err := c.do(ctx, op, http.MethodGet, "/api/client/delta", token, nil, hdr)
	if err != nil {
		return nil, 0, false, err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, lastEventID, true, nil
	case http.StatusOK:
	default:
		return nil, 0, false, &StatusError{Op: op, Code: resp.StatusCode}
	}
	d, err = flags.DecodeClientFeaturesDelta(data)
	if err != nil {
		return nil, 0, false, fmt.Errorf("upstream: %s: %w", op, err)
	}
	newID = lastEventID
	if id, ok := parseEventID(resp.Header.Get("ETag")); ok {
		newID = id
	} else if m := maxEventID(d.Events); m > 0 {
		newID = m
	}
	return d, newID, false, nil
}

// parseEventID parses an event id as sent in an ETag or an SSE id field:
// digits, optionally quoted, optionally weak (W/).
func parseEventID(s string) (uint32, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	s = strings.Trim(s, `"`)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

func maxEventID(events []flags.DeltaEvent) uint32 {
	var m uint32
	for i := range events {
		if id := events[i].EventID; id > 0 && uint32(id) > m {
			m = uint32(id)
		}
	}
	return m
}
