package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/zmqkit/zmqkit/sockets"
)

// topicsHelp ends the forwarder's help.
var topicsHelp = `
Who may subscribe to what (forwarder only): --backend-topics FILE admits a
subscription on the backend only if a line of FILE allows it. Each line
names a subscriber, then the topic prefixes it may subscribe under,
separated by spaces:

  # comment (a '#' then a space, or a line that is only '#')
  *                                          news.
  Ku5Eb<R/cNfbM5.j04oI)1$xDdl2L%KkBZ2X:}ES   news. weather. alerts.
  C^p*}yUMdfhgKwX>8qfz>6KH/0!!@Qa?P<!?JrRm   ""

A subscriber is a CURVE client key (so the backend needs
--backend-curve-secret) or '*' for everyone. A subscription to topic T is
admitted when T begins with one of the prefixes of '*' or of the
subscriber's key; "" stands for the empty prefix, which admits every topic
(including the subscription to everything). Prefixes are escaped as 'zmqkit
recv' prints frames (\t, \xNN, ...). Refusals are logged and counted
(zmqkit_socket_events_total{event="subscription_refused"}); the subscriber
is not told, it just receives nothing for them. The file is read at start
and again on SIGHUP; the new rules apply to subscriptions made afterwards
(a file that does not parse then leaves the rules in force, and says why in
the log).
` + fmt.Sprintf(`
With or without FILE, each backend subscriber may hold at most %d
topics of %d MiB in all; what goes beyond is refused, logged once per
connection and counted
(zmqkit_socket_events_total{event="subscription_over_limit"}). The
publishers upstream receive the distinct topics of all the backend's
subscribers over the forwarder's one connection: give them limits that fit.
`, sockets.DefaultMaxSubscriptions, sockets.DefaultMaxSubscriptionBytes>>20)

// topicRules is a parsed --backend-topics file.
type topicRules struct {
	anyone [][]byte            // prefixes for '*'
	byKey  map[string][][]byte // by CURVE client key (Z85)
}

// parseTopicRules reads a --backend-topics file.
func parseTopicRules(path string) (*topicRules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--backend-topics: %v", err)
	}
	r := &topicRules{byKey: make(map[string][][]byte)}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "#" || strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "#\t") {
			continue
		}
		fields := strings.Fields(line)
		who, prefixes := fields[0], fields[1:]
		if len(prefixes) == 0 {
			return nil, usagef("--backend-topics: %s line %d: %q names no topic prefix", path, i+1, who)
		}
		var ps [][]byte
		for _, p := range prefixes {
			if p == `""` {
				ps = append(ps, []byte{})
				continue
			}
			ps = append(ps, bytes.Clone(unescape([]byte(p))))
		}
		if who == "*" {
			r.anyone = append(r.anyone, ps...)
			continue
		}
		if _, err := sockets.ParseCurveKey(who); err != nil || len(who) != 40 {
			return nil, usagef("--backend-topics: %s line %d: %q is neither '*' nor a CURVE public key (40 Z85 characters)", path, i+1, who)
		}
		r.byKey[who] = append(r.byKey[who], ps...)
	}
	return r, nil
}

// allow reports whether p may subscribe to topic.
func (r *topicRules) allow(p sockets.Peer, topic []byte) bool {
	for _, ps := range [][][]byte{r.anyone, r.byKey[p.UserID]} {
		for _, prefix := range ps {
			if bytes.HasPrefix(topic, prefix) {
				return true
			}
		}
	}
	return false
}
