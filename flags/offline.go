package flags

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// OfflineConfig configures an Offline source.
type OfflineConfig struct {
	// Path is the bootstrap file. Required unless Data is set.
	Path string
	// Data, when set, is served instead of reading Path (the embedded demo
	// set); it is never reloaded.
	Data []byte
	// Store receives the compiled state under the fallback environment "".
	Store *Store
	// ReloadInterval re-reads Path this often; zero disables reloading.
	ReloadInterval time.Duration
	// Logger receives reload outcomes; nil discards them.
	Logger *slog.Logger
}

// Offline serves the flag state of a bootstrap file, as Unleash Edge's
// offline mode does, and reloads it on an interval. A file that fails to
// parse on reload keeps the last good state and is logged.
type Offline struct {
	cfg  OfflineConfig
	last []byte
	// plan is the last state published, from which a reload compiles
	// only the features that changed.
	plan *Plan
}

// NewOffline loads the bootstrap once and publishes it. An unreadable or
// malformed file is an error (a *BootstrapError names line and column).
func NewOffline(cfg OfflineConfig) (*Offline, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		cfg.Store = new(Store)
	}
	o := &Offline{cfg: cfg}
	if _, err := o.load(); err != nil {
		return nil, err
	}
	return o, nil
}

// Store returns the store the source publishes into.
func (o *Offline) Store() *Store { return o.cfg.Store }

// Reload re-reads the file and publishes it when its content changed. It
// reports whether a new state was published; on error the current state is
// kept.
func (o *Offline) Reload() (bool, error) { return o.load() }

func (o *Offline) load() (bool, error) {
	data, origin := o.cfg.Data, "embedded demo"
	if data == nil {
		var err error
		origin = o.cfg.Path
		if data, err = os.ReadFile(o.cfg.Path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in BootstrapError already
			}
			return false, &BootstrapError{File: o.cfg.Path, Err: err}
		}
	}
	if o.last != nil && bytes.Equal(data, o.last) {
		return false, nil
	}
	cf, err := DecodeBootstrap(data)
	if err != nil {
		if be, ok := err.(*BootstrapError); ok && o.cfg.Data == nil {
			be.File = o.cfg.Path
		}
		return false, err
	}
	plan := CompileFrom(o.plan, cf)
	for _, w := range plan.Warnings() {
		o.cfg.Logger.Warn("flag will evaluate as off", "file", origin, "reason", w)
	}
	snap := o.cfg.Store.Publish("", plan, origin)
	o.last, o.plan = data, plan
	o.cfg.Logger.Info("bootstrap loaded", "file", origin, "features", plan.Len(), "version", snap.Version)
	return true, nil
}

// Run reloads the file every ReloadInterval until ctx is done. With no
// interval (or embedded data) it returns at once.
func (o *Offline) Run(ctx context.Context) {
	if o.cfg.ReloadInterval <= 0 || o.cfg.Data != nil {
		return
	}
	t := time.NewTicker(o.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := o.load(); err != nil {
				o.cfg.Logger.Error("bootstrap reload failed; keeping the last good state", "file", o.cfg.Path, "err", err)
			}
		}
	}
}
