package sockets

import (
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/sockets/internal/engine"
)

// The public event kinds are numbered as the engine's: eventOf converts
// by number.
func TestEventKindsMatchEngine(t *testing.T) {
	kinds := map[EventKind]engine.EventKind{
		EventListening: engine.EventListening, EventAccepted: engine.EventAccepted,
		EventConnected: engine.EventConnected, EventConnectRetried: engine.EventConnectRetried,
		EventDisconnected: engine.EventDisconnected, EventHandshakeFailed: engine.EventHandshakeFailed,
		EventMessageTooLarge: engine.EventMessageTooLarge, EventHeartbeatTimeout: engine.EventHeartbeatTimeout,
		EventRejected: engine.EventRejected, EventProtocolError: engine.EventProtocolError,
		EventClosed: engine.EventClosed, EventStalled: engine.EventStalled,
		EventDialStopped: engine.EventDialStopped, EventMemberAdded: engine.EventMemberAdded,
		EventMemberRemoved: engine.EventMemberRemoved, EventResolveError: engine.EventResolveError,
	}
	for k, e := range kinds {
		if uint8(k) != uint8(e) || k.String() != e.String() {
			t.Errorf("%v (%d) is the engine's %v (%d)", k, k, e, e)
		}
	}
	if next := EventResolveError + 1; next.String() != "unknown" {
		t.Errorf("the engine has a kind after EventResolveError (%s) that sockets lacks", next)
	}
}

// The public ReconnectStop flags are the engine's (WithReconnectStop
// converts one into the other).
func TestReconnectStopMatchesEngine(t *testing.T) {
	if uint8(StopOnRefused) != uint8(engine.StopOnRefused) || uint8(StopOnHandshakeFailed) != uint8(engine.StopOnHandshakeFailed) {
		t.Errorf("ReconnectStop flags differ from the engine's")
	}
}

// A socket's connection attempts are bounded unless told otherwise, and
// the dial-set options have their documented defaults.
func TestConnectionDefaults(t *testing.T) {
	c := defaultConfig(Push)
	if c.ConnectTimeout != 10*time.Second {
		t.Errorf("connect timeout %v, want 10s", c.ConnectTimeout)
	}
	if c.resolveInterval != 30*time.Second || c.resolveTimeout != DefaultResolveTimeout || c.maxMembers != 1024 {
		t.Errorf("resolve interval %v, timeout %v, max members %d", c.resolveInterval, c.resolveTimeout, c.maxMembers)
	}
}
