package zmqwatermill

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// item is a received message waiting in its topic's backlog, and then for
// its Ack: every delivery (a redelivery after Nack too) makes a fresh
// *message.Message from it, with the same UUID, its own copy of the
// metadata and payload, so that what a handler did to one delivery never
// reaches the next.
type item struct {
	uuid    string
	meta    map[string]string
	payload []byte
}

func (it *item) size() int64 { return int64(len(it.payload)) }

// subscription is one Subscribe call's output.
type subscription struct {
	ctx context.Context // the caller's, and Close's
	out chan *message.Message
}

// delivery is a message a subscription has taken and not yet Acked or
// Nacked.
type delivery struct {
	it     *item
	msg    *message.Message
	cancel context.CancelFunc
}

// topic holds one topic of a Subscriber: the backlog of received messages
// and the subscriptions that take them. One goroutine (run) hands the
// messages out: it offers the oldest one to every subscription that has
// no message in hand, and the first that takes it has it, so that a
// subscription whose reader has gone never holds a message another one
// could take. A Nacked message goes back to the front of the backlog.
type topic struct {
	name string
	s    *Subscriber

	mu      sync.Mutex
	backlog []*item // oldest first
	bytes   int64
	added   []*subscription // new subscriptions, for run to take up

	wake  chan struct{} // a message or subscription arrived (cap 1)
	space chan struct{} // the backlog got shorter (cap 1; Competing's reader waits on it)

	welcome   chan struct{}       // a welcome arrived (cap 1)
	welcomers map[string]struct{} // from whom (peerKey), under mu; bounded by maxWelcomers
	joinOnce  sync.Once
	joined    chan struct{} // closed when a join succeeded (FanOut)
}

// maxWelcomers bounds the peers a topic remembers welcomes from: a
// Subscriber has few Publishers, and a join waits only for those it is
// connected to.
const maxWelcomers = 1024

func newTopic(s *Subscriber, name string) *topic {
	return &topic{
		name:    name,
		s:       s,
		wake:    make(chan struct{}, 1),
		space:   make(chan struct{}, 1),
		joined:  make(chan struct{}),
		welcome: make(chan struct{}, 1),
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// addWelcome records a welcome from the peer named key.
func (t *topic) addWelcome(key string) {
	t.mu.Lock()
	if t.welcomers == nil {
		t.welcomers = make(map[string]struct{})
	}
	if len(t.welcomers) < maxWelcomers {
		t.welcomers[key] = struct{}{}
	}
	t.mu.Unlock()
	poke(t.welcome)
}

func (t *topic) welcomedBy(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.welcomers[key]
	return ok
}

func (t *topic) welcomes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.welcomers)
}

// markJoined records a successful join.
func (t *topic) markJoined() { t.joinOnce.Do(func() { close(t.joined) }) }

func (t *topic) isJoined() bool {
	select {
	case <-t.joined:
		return true
	default:
		return false
	}
}

// offer appends a received message unless the backlog is at its bounds;
// it reports whether it did.
func (t *topic) offer(it *item) bool {
	cfg := &t.s.cfg
	t.mu.Lock()
	n := len(t.backlog)
	full := n > 0 && (n >= cfg.Backlog || t.bytes+it.size() > cfg.BacklogBytes)
	if !full {
		t.backlog = append(t.backlog, it)
		t.bytes += it.size()
	}
	t.mu.Unlock()
	// run needs waking only when it may have seen no message: with one
	// in front already, it is offering that one or waiting for an Ack.
	if !full && n == 0 {
		poke(t.wake)
	}
	return !full
}

// subscribe adds a subscription.
func (t *topic) subscribe(sub *subscription) {
	t.mu.Lock()
	t.added = append(t.added, sub)
	t.mu.Unlock()
	poke(t.wake)
}

// head returns the oldest message and takes up new subscriptions.
func (t *topic) head(subs []*subscription) (*item, []*subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	subs = append(subs, t.added...)
	clear(t.added)
	t.added = t.added[:0]
	if len(t.backlog) == 0 {
		return nil, subs
	}
	return t.backlog[0], subs
}

// pop removes the oldest message (the one head returned: only run takes
// from the front).
func (t *topic) pop() {
	t.mu.Lock()
	it := t.backlog[0]
	t.backlog[0] = nil
	t.backlog = t.backlog[1:]
	t.bytes -= it.size()
	if len(t.backlog) == 0 {
		t.backlog = nil // let the array go
	}
	t.mu.Unlock()
	poke(t.space)
}

// requeue puts a Nacked message back in front, over the bounds if need be
// (it was taken within them).
func (t *topic) requeue(it *item) {
	t.mu.Lock()
	t.backlog = slices.Insert(t.backlog, 0, it)
	t.bytes += it.size()
	t.mu.Unlock()
}

// newDelivery makes the message one subscription is offered.
func newDelivery(it *item, sub *subscription) *delivery {
	msg := message.NewMessage(it.uuid, slices.Clone(it.payload))
	if len(it.meta) > 0 {
		msg.Metadata = maps.Clone(it.meta)
	}
	ctx, cancel := context.WithCancel(sub.ctx)
	msg.SetContext(ctx)
	return &delivery{it: it, msg: msg, cancel: cancel}
}

// caseKind says what a select case of run stands for.
type caseKind uint8

const (
	caseWake caseKind = iota
	caseClose
	caseEnded // a subscription's context ended
	caseAck
	caseNack
	caseOffer
)

// run hands out the topic's messages until the Subscriber closes. It owns
// the subscriptions' channels: it alone sends on them and closes them.
func (t *topic) run() {
	defer t.s.wg.Done()
	var (
		subs     []*subscription
		inflight = map[*subscription]*delivery{}
		orphans  []*delivery // taken by subscriptions that have ended
		offers   = map[*subscription]*delivery{}
		offered  *item // the item offers were made for
		cases    []reflect.SelectCase
		kinds    []caseKind
		who      []*subscription
		whoD     []*delivery
	)
	dropOffers := func() {
		for sub, d := range offers {
			d.cancel()
			delete(offers, sub)
		}
		offered = nil
	}
	defer func() {
		dropOffers()
		for _, d := range inflight {
			d.cancel()
		}
		for _, d := range orphans {
			d.cancel()
		}
		for _, sub := range subs {
			close(sub.out)
		}
		// Subscriptions added as the Subscriber closed.
		_, subs = t.head(nil)
		for _, sub := range subs {
			close(sub.out)
		}
	}()
	add := func(k caseKind, ch reflect.Value, dir reflect.SelectDir, send reflect.Value, sub *subscription, d *delivery) {
		cases = append(cases, reflect.SelectCase{Dir: dir, Chan: ch, Send: send})
		kinds = append(kinds, k)
		who = append(who, sub)
		whoD = append(whoD, d)
	}
	closing := reflect.ValueOf(t.s.closing)
	wake := reflect.ValueOf(t.wake)
	for {
		var head *item
		head, subs = t.head(subs)
		if head != offered {
			dropOffers()
		}
		var (
			kind caseKind
			sub  *subscription
			d    *delivery
		)
		if len(subs) == 1 && len(orphans) == 0 {
			// The common case, without reflect.
			sub = subs[0]
			kind, d = t.selectOne(sub, inflight[sub], head, offers, &offered)
		} else {
			cases, kinds, who, whoD = cases[:0], kinds[:0], who[:0], whoD[:0]
			add(caseWake, wake, reflect.SelectRecv, reflect.Value{}, nil, nil)
			add(caseClose, closing, reflect.SelectRecv, reflect.Value{}, nil, nil)
			for _, sub := range subs {
				if done := sub.ctx.Done(); done != nil {
					add(caseEnded, reflect.ValueOf(done), reflect.SelectRecv, reflect.Value{}, sub, nil)
				}
				if d := inflight[sub]; d != nil {
					add(caseAck, reflect.ValueOf(d.msg.Acked()), reflect.SelectRecv, reflect.Value{}, sub, d)
					add(caseNack, reflect.ValueOf(d.msg.Nacked()), reflect.SelectRecv, reflect.Value{}, sub, d)
					continue
				}
				if head == nil {
					continue
				}
				d := offers[sub]
				if d == nil {
					d = newDelivery(head, sub)
					offers[sub] = d
					offered = head
				}
				add(caseOffer, reflect.ValueOf(sub.out), reflect.SelectSend, reflect.ValueOf(d.msg), sub, d)
			}
			for _, d := range orphans {
				add(caseAck, reflect.ValueOf(d.msg.Acked()), reflect.SelectRecv, reflect.Value{}, nil, d)
				add(caseNack, reflect.ValueOf(d.msg.Nacked()), reflect.SelectRecv, reflect.Value{}, nil, d)
			}
			i, _, _ := reflect.Select(cases)
			kind, sub, d = kinds[i], who[i], whoD[i]
		}
		switch kind {
		case caseWake:
		case caseClose:
			return
		case caseEnded:
			subs = slices.DeleteFunc(subs, func(x *subscription) bool { return x == sub })
			if od := offers[sub]; od != nil {
				od.cancel()
				delete(offers, sub)
			}
			if fd := inflight[sub]; fd != nil {
				delete(inflight, sub)
				orphans = append(orphans, fd)
			}
			close(sub.out)
		case caseOffer:
			delete(offers, sub)
			inflight[sub] = d
			t.pop()
			t.s.delivered.Add(1)
			dropOffers() // the head has changed
		case caseAck, caseNack:
			d.cancel()
			if sub != nil {
				delete(inflight, sub)
			} else {
				orphans = slices.DeleteFunc(orphans, func(x *delivery) bool { return x == d })
			}
			if kind == caseAck {
				t.s.acked.Add(1)
			} else {
				t.s.nacked.Add(1)
				t.requeue(d.it)
				dropOffers()
			}
		}
	}
}

// selectOne is run's select for a topic with one subscription and no
// orphans: the same cases as the general one, as a plain select.
func (t *topic) selectOne(sub *subscription, inflight *delivery, head *item, offers map[*subscription]*delivery, offered **item) (caseKind, *delivery) {
	var (
		acked, nacked <-chan struct{}
		out           chan *message.Message
		offer         *delivery
		msg           *message.Message
	)
	switch {
	case inflight != nil:
		acked, nacked = inflight.msg.Acked(), inflight.msg.Nacked()
	case head != nil:
		offer = offers[sub]
		if offer == nil {
			offer = newDelivery(head, sub)
			offers[sub] = offer
			*offered = head
		}
		out, msg = sub.out, offer.msg
	}
	select {
	case <-t.wake:
		return caseWake, nil
	case <-t.s.closing:
		return caseClose, nil
	case <-sub.ctx.Done():
		return caseEnded, nil
	case <-acked:
		return caseAck, inflight
	case <-nacked:
		return caseNack, inflight
	case out <- msg:
		return caseOffer, offer
	}
}
