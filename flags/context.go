package flags

// Field bits record which well-known Context fields were given. A field that
// is absent differs from one given as "" in constraint evaluation.
const (
	HasUserID uint8 = 1 << iota
	HasSessionID
	HasRemoteAddress
	HasEnvironment
	HasAppName
	HasCurrentTime
)

// Property is one custom context property. Properties are a slice, not a
// map, so a pooled Context is reused without allocation.
type Property struct {
	Key   string
	Value string
}

// Context is an Unleash evaluation context. It is reused between requests:
// Reset keeps the capacity of Properties. The strings may alias request
// buffers; a Context must not outlive the request that filled it.
type Context struct {
	UserID        string
	SessionID     string
	RemoteAddress string
	Environment   string
	AppName       string
	// CurrentTime is the raw RFC 3339 value; empty means now.
	CurrentTime string
	// Has holds the Has* bits of the fields above that were given.
	Has        uint8
	Properties []Property
}

// Reset clears c for reuse, keeping the Properties capacity.
func (c *Context) Reset() {
	props := c.Properties[:0]
	*c = Context{Properties: props}
}

// Set stores value under key: the well-known field names (userId,
// sessionId, remoteAddress, environment, appName, currentTime) set their
// field, any other key becomes a property (replacing an earlier one).
func (c *Context) Set(key, value string) {
	switch key {
	case "userId":
		c.UserID, c.Has = value, c.Has|HasUserID
	case "sessionId":
		c.SessionID, c.Has = value, c.Has|HasSessionID
	case "remoteAddress":
		c.RemoteAddress, c.Has = value, c.Has|HasRemoteAddress
	case "environment":
		c.Environment, c.Has = value, c.Has|HasEnvironment
	case "appName":
		c.AppName, c.Has = value, c.Has|HasAppName
	case "currentTime":
		c.CurrentTime, c.Has = value, c.Has|HasCurrentTime
	default:
		c.SetProperty(key, value)
	}
}

// SetProperty stores a custom property, replacing an earlier value.
func (c *Context) SetProperty(key, value string) {
	for i := range c.Properties {
		if c.Properties[i].Key == key {
			c.Properties[i].Value = value
			return
		}
	}
	c.Properties = append(c.Properties, Property{Key: key, Value: value})
}

// Property returns the custom property key and whether it was given.
func (c *Context) Property(key string) (string, bool) {
	for i := range c.Properties {
		if c.Properties[i].Key == key {
			return c.Properties[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of a context field by its Unleash name: the
// well-known fields first, then the custom properties. It is what
// constraints (contextName) and stickiness read.
func (c *Context) Value(name string) (string, bool) {
	switch name {
	case "userId":
		return c.UserID, c.Has&HasUserID != 0
	case "sessionId":
		return c.SessionID, c.Has&HasSessionID != 0
	case "remoteAddress":
		return c.RemoteAddress, c.Has&HasRemoteAddress != 0
	case "environment":
		return c.Environment, c.Has&HasEnvironment != 0
	case "appName":
		return c.AppName, c.Has&HasAppName != 0
	case "currentTime":
		return c.CurrentTime, c.Has&HasCurrentTime != 0
	}
	return c.Property(name)
}
