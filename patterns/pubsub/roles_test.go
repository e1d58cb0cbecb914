package pubsub

import (
	"testing"
	"time"

	"github.com/zmqkit/zmqkit/internal/testutil"
	"github.com/zmqkit/zmqkit/sockets"
)

// TestWrongRoleDoesNotCompile documents which role takes which option:
// giving a role an option it would ignore does not compile.
func TestWrongRoleDoesNotCompile(t *testing.T) {
	testutil.CheckOptionRoles(t, testutil.OptionRoles{
		Imports: []string{"time", "github.com/zmqkit/zmqkit/codec", "github.com/zmqkit/zmqkit/patterns/pubsub"},
		Roles: map[string]string{
			"publisher":  "_, _ = pubsub.NewPublisher(codec.String(), pubsub.%s)",
			"cache":      "_, _ = pubsub.NewCache(pubsub.%s)",
			"subscriber": "_, _ = pubsub.NewSubscriber(codec.String(), pubsub.%s)",
			"replica":    "_, _ = pubsub.NewReplica(codec.String(), pubsub.%s)",
		},
		Options: map[string][]string{
			"WithSocketOptions()":                          {"publisher", "cache", "subscriber", "replica"},
			"WithReplay(false)":                            {"publisher"},
			"WithHeartbeat(time.Second)":                   {"publisher"},
			"WithMaxTopics(1)":                             {"cache", "subscriber"},
			"WithMaxLag(time.Second)":                      {"subscriber"},
			"WithClock(time.Now)":                          {"subscriber"},
			"WithSubscribe(\"a\")":                         {"subscriber"},
			"WithSnapshotTimeout(time.Second)":             {"replica"},
			"WithMaxBuffer(1)":                             {"replica"},
			"WithOnResync(nil)":                            {"replica"},
			"WithOnUpdate(func(pubsub.Update[string]) {})": {"replica"},
		},
	})
}

// TestOptionsTakeEffect checks that each option a role accepts changes
// that role's configuration.
func TestOptionsTakeEffect(t *testing.T) {
	sock := WithSocketOptions(sockets.WithSendHWM(1))
	maxTopics := WithMaxTopics(3)
	testutil.OptionEffects(t, map[string]PublisherOption{"replay": WithReplay(false), "heartbeat": WithHeartbeat(time.Hour), "socket": sock},
		func(o []PublisherOption) (config, error) { return newConfig(o, PublisherOption.applyPublisher) })
	testutil.OptionEffects(t, map[string]CacheOption{"max topics": maxTopics, "socket": sock},
		func(o []CacheOption) (config, error) { return newConfig(o, CacheOption.applyCache) })
	testutil.OptionEffects(t, map[string]SubscriberOption{
		"max lag": WithMaxLag(time.Second), "clock": WithClock(func() time.Time { return time.Time{} }),
		"subscribe": WithSubscribe("a"), "max topics": maxTopics, "socket": sock,
	}, func(o []SubscriberOption) (config, error) { return newConfig(o, SubscriberOption.applySubscriber) })
	testutil.OptionEffects(t, map[string]ReplicaOption{
		"snapshot timeout": WithSnapshotTimeout(time.Hour), "max buffer": WithMaxBuffer(1),
		"on resync": WithOnResync(func(error) {}), "on update": WithOnUpdate(func(Update[string]) {}), "socket": sock,
	}, func(o []ReplicaOption) (config, error) { return newConfig(o, ReplicaOption.applyReplica) })
}
