package flags

// fieldKind says where a context field is read from: a well-known Context
// field or a custom property.
type fieldKind uint8

const (
	fieldProperty fieldKind = iota
	fieldUserID
	fieldSessionID
	fieldRemoteAddress
	fieldEnvironment
	fieldAppName
	fieldCurrentTime
)

// fieldRef is a context field name resolved at compile time, so evaluation
// does not switch on strings.
type fieldRef struct {
	kind fieldKind
	name string // the property name for fieldProperty
}

// resolveField maps an Unleash context field name to a fieldRef.
func resolveField(name string) fieldRef {
	switch name {
	case "userId":
		return fieldRef{kind: fieldUserID}
	case "sessionId":
		return fieldRef{kind: fieldSessionID}
	case "remoteAddress":
		return fieldRef{kind: fieldRemoteAddress}
	case "environment":
		return fieldRef{kind: fieldEnvironment}
	case "appName":
		return fieldRef{kind: fieldAppName}
	case "currentTime":
		return fieldRef{kind: fieldCurrentTime}
	}
	return fieldRef{kind: fieldProperty, name: name}
}

// value reads the field from ctx.
func (f *fieldRef) value(ctx *Context) (string, bool) {
	switch f.kind {
	case fieldUserID:
		return ctx.UserID, ctx.Has&HasUserID != 0
	case fieldSessionID:
		return ctx.SessionID, ctx.Has&HasSessionID != 0
	case fieldRemoteAddress:
		return ctx.RemoteAddress, ctx.Has&HasRemoteAddress != 0
	case fieldEnvironment:
		return ctx.Environment, ctx.Has&HasEnvironment != 0
	case fieldAppName:
		return ctx.AppName, ctx.Has&HasAppName != 0
	case fieldCurrentTime:
		return ctx.CurrentTime, ctx.Has&HasCurrentTime != 0
	}
	for i := range ctx.Properties {
		if ctx.Properties[i].Key == f.name {
			return ctx.Properties[i].Value, true
		}
	}
	return "", false
}

// stickKind is how a rollout or variant stickiness value is found.
type stickKind uint8

const (
	// stickDefault is userId, then sessionId, then random.
	stickDefault stickKind = iota
	// stickRandom is always random.
	stickRandom
	// stickField reads one field; when it is absent a rollout is false and a
	// variant is picked at random.
	stickField
)

type stickiness struct {
	kind  stickKind
	field fieldRef
}

// rolloutStickiness resolves a flexibleRollout "stickiness" parameter.
func rolloutStickiness(s string) stickiness {
	switch s {
	case "", "default":
		return stickiness{kind: stickDefault}
	case "random":
		return stickiness{kind: stickRandom}
	}
	return stickiness{kind: stickField, field: resolveField(s)}
}

// variantStickiness resolves a variant stickiness as Edge does: only
// userId, sessionId, environment, appName and remoteAddress are context
// fields; every other name (random, currentTime included) is a property.
func variantStickiness(s string) stickiness {
	switch s {
	case "", "default":
		return stickiness{kind: stickDefault}
	case "userId", "sessionId", "environment", "appName", "remoteAddress":
		return stickiness{kind: stickField, field: resolveField(s)}
	}
	return stickiness{kind: stickField, field: fieldRef{kind: fieldProperty, name: s}}
}

// value returns the stickiness value; ok false means "use random".
func (s *stickiness) value(ctx *Context) (string, bool) {
	switch s.kind {
	case stickDefault:
		if ctx.Has&HasUserID != 0 {
			return ctx.UserID, true
		}
		if ctx.Has&HasSessionID != 0 {
			return ctx.SessionID, true
		}
		return "", false
	case stickRandom:
		return "", false
	}
	return s.field.value(ctx)
}
