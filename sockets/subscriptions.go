package sockets

import (
	"sync"
	"sync/atomic"
)

// topicTrie is a set of subscription topics (prefixes), each with a count,
// kept as a radix tree, as libzmq keeps them in a trie (trie.cpp,
// mtrie.cpp). Adding or removing a topic costs time in its length, not in
// how many topics there are; matching a message walks at most the bytes of
// its first frame. It is not safe for concurrent use.
//
// Memory: a topic's bytes are held once. A node's key is the whole prefix
// from the root to the end of its edge (the edge itself is key[off:]),
// sliced from the copy of a topic that lies at or below the node. Splitting
// or merging an edge moves off and allocates no bytes, so no sequence of
// additions and removals makes work in the size of other topics; and a
// topic's copy stays only while that topic is in the trie, because
// removing it points the nodes above at the copy of another topic below
// them.
type topicTrie struct {
	root trieNode
	n    int         // topics held (count > 0)
	size int         // their bytes
	path []*trieNode // remove's scratch: the nodes above the one removed
}

type trieNode struct {
	key  []byte    // the prefix from the root to the end of this node's edge
	off  int       // where this node's edge starts in key
	refs int       // how many times key was added and not removed; 0: a branch
	kids []trieKid // ascending by b
}

type trieKid struct {
	b byte // the first byte of the kid's edge
	n *trieNode
}

// find returns where the kid whose edge starts with b is, or would go.
func (n *trieNode) find(b byte) (int, bool) {
	k := n.kids
	if len(k) <= 8 {
		for i := range k {
			if k[i].b >= b {
				return i, k[i].b == b
			}
		}
		return len(k), false
	}
	lo, hi := 0, len(k)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(k) && k[lo].b == b
}

func (n *trieNode) insertKid(i int, c *trieNode) {
	n.kids = append(n.kids, trieKid{})
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = trieKid{b: c.key[c.off], n: c}
}

func (n *trieNode) removeKid(i int) {
	copy(n.kids[i:], n.kids[i+1:])
	n.kids[len(n.kids)-1] = trieKid{}
	n.kids = n.kids[:len(n.kids)-1]
	if cap(n.kids) > 16 && len(n.kids) <= cap(n.kids)/4 {
		// A node that once had many kids does not keep room for them.
		n.kids = append([]trieKid(nil), n.kids...)
	}
}

// commonLen is the length of the longest common prefix of a and b.
func commonLen(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+16 <= n && string(a[i:i+16]) == string(b[i:i+16]) {
		i += 16
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// exactCopy copies b into memory of exactly its size.
func exactCopy(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// lookup returns the node whose key is topic, or nil; above, if not nil,
// gets the nodes from the root down to its parent.
func (t *topicTrie) lookup(topic []byte, above *[]*trieNode) *trieNode {
	n, depth := &t.root, 0
	for depth < len(topic) {
		i, ok := n.find(topic[depth])
		if !ok {
			return nil
		}
		c := n.kids[i].n
		edge := c.key[c.off:]
		if len(topic)-depth < len(edge) || string(edge) != string(topic[depth:depth+len(edge)]) {
			return nil
		}
		if above != nil {
			*above = append(*above, n)
		}
		n, depth = c, depth+len(edge)
	}
	return n
}

// count is how many times topic was added and not removed.
func (t *topicTrie) count(topic []byte) int {
	if n := t.lookup(topic, nil); n != nil {
		return n.refs
	}
	return 0
}

// add counts one more of topic and returns its count. With keep the trie
// may hold on to topic itself, which must then never change (and should
// be memory of its own, or it pins what it was sliced from); otherwise the
// trie copies what it keeps.
func (t *topicTrie) add(topic []byte, keep bool) int {
	n, depth := &t.root, 0
	own := func() []byte {
		if !keep {
			topic, keep = exactCopy(topic), true
		}
		return topic
	}
	for depth < len(topic) {
		i, ok := n.find(topic[depth])
		if !ok {
			leaf := &trieNode{key: own(), off: depth}
			n.insertKid(i, leaf)
			n, depth = leaf, len(topic)
			break
		}
		c := n.kids[i].n
		edge := c.key[c.off:]
		l := commonLen(edge, topic[depth:])
		if l < len(edge) {
			// topic parts from c's edge, or ends inside it: a node above c
			// ends where they part. Its key is the new topic's, which is at
			// or below it.
			mid := &trieNode{key: own()[:depth+l], off: depth, kids: make([]trieKid, 1, 2)}
			c.off = depth + l
			mid.kids[0] = trieKid{b: c.key[c.off], n: c}
			n.kids[i].n = mid
			c = mid
		}
		n, depth = c, depth+l
	}
	n.refs++
	if n.refs == 1 {
		t.n++
		t.size += len(topic)
	}
	return n.refs
}

// remove takes one count off topic and returns what is left; ok is false
// when topic was not there (nothing changes then).
func (t *topicTrie) remove(topic []byte) (left int, ok bool) {
	path := t.path[:0]
	n := t.lookup(topic, &path)
	used := len(path)
	defer func() {
		// Drop the pointers (to nodes that may be gone), not the room.
		clear(path[:max(used, len(path))])
		t.path = path[:0]
	}()
	if n == nil || n.refs == 0 {
		return 0, false
	}
	n.refs--
	if n.refs > 0 {
		return n.refs, true
	}
	t.n--
	t.size -= len(topic)
	if n == &t.root {
		return 0, true
	}
	// n is no topic now. Without kids it goes, and its parent, if that is
	// no topic either, keeps a single kid and merges with it; with one kid
	// it merges with that kid, which takes its place.
	p := path[len(path)-1]
	i, _ := p.find(n.key[n.off])
	switch len(n.kids) {
	case 0:
		p.removeKid(i)
		if p != &t.root && p.refs == 0 && len(p.kids) == 1 {
			g := path[len(path)-2]
			j, _ := g.find(p.key[p.off])
			c := p.kids[0].n
			c.off = p.off
			g.kids[j].n = c
			path = path[:len(path)-1]
		}
	case 1:
		c := n.kids[0].n
		c.off = n.off
		p.kids[i].n = c
	default:
		path = append(path, n)
	}
	// The nodes above may hold topic's copy: point them at a kid's, and a
	// node left without kids at a copy of its own topic.
	for k := len(path) - 1; k > 0; k-- {
		x := path[k]
		switch {
		case len(x.kids) > 0:
			x.key = x.kids[0].n.key[:len(x.key)]
		case cap(x.key) > len(x.key):
			x.key = exactCopy(x.key)
		}
	}
	return 0, true
}

// match reports whether some topic is a prefix of data.
func (t *topicTrie) match(data []byte) bool {
	n, depth := &t.root, 0
	for n.refs == 0 {
		if depth == len(data) {
			return false
		}
		i, ok := n.find(data[depth])
		if !ok {
			return false
		}
		c := n.kids[i].n
		edge := c.key[c.off:]
		if len(data)-depth < len(edge) || string(edge) != string(data[depth:depth+len(edge)]) {
			return false
		}
		n, depth = c, depth+len(edge)
	}
	return true
}

// each calls f with every topic and its count, in byte order. The topic
// is the trie's own memory: f must not modify it, and may keep it (it
// never changes).
func (t *topicTrie) each(f func(topic []byte, count int)) {
	stack := []*trieNode{&t.root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.refs > 0 {
			f(n.key[:len(n.key):len(n.key)], n.refs)
		}
		for i := len(n.kids) - 1; i >= 0; i-- {
			stack = append(stack, n.kids[i].n)
		}
	}
}

// reset empties the trie.
func (t *topicTrie) reset() { *t = topicTrie{} }

// subscriptions is a set of topics shared between the goroutine that
// changes it and those that match messages against it: a topicTrie under
// a read-write lock (a copy-on-write snapshot of a trie would cost a copy
// of the whole set per change). The common case, a few topics, is
// matched without the lock, as before the trie: while the set is small,
// every change also publishes its topics as an immutable slice.
type subscriptions struct {
	mu   sync.RWMutex
	trie topicTrie
	snap atomic.Pointer[subSnapshot] // nil: empty
}

// smallSet is how many topics are matched from the snapshot, one by one,
// without the lock.
const smallSet = 16

type subSnapshot struct {
	all    bool     // "" is a topic: everything matches
	big    bool     // more than smallSet topics: match the trie
	topics [][]byte // the topics when not big (the trie's memory)
}

var (
	bigSnapshot    = &subSnapshot{big: true}
	bigAllSnapshot = &subSnapshot{big: true, all: true}
)

// publish makes the snapshot anew. Called with mu held.
func (s *subscriptions) publish() {
	t := &s.trie
	all := t.root.refs > 0
	switch {
	case t.n == 0:
		s.snap.Store(nil)
	case t.n > smallSet && all:
		s.snap.Store(bigAllSnapshot)
	case t.n > smallSet:
		s.snap.Store(bigSnapshot)
	default:
		sn := &subSnapshot{all: all, topics: make([][]byte, 0, t.n)}
		t.each(func(k []byte, _ int) { sn.topics = append(sn.topics, k) })
		s.snap.Store(sn)
	}
}

// admission is what admit did with a subscription.
type admission int

const (
	admitted  admission = iota // new, now in the set
	already                    // in the set before
	overLimit                  // new, but the set is full: refused
)

// admit is add for a peer's subscription, within limits on the number of
// topics and their bytes (0: none). A new topic is copied once, and the
// copy, which never changes, is returned for other sets to keep too.
func (s *subscriptions) admit(topic []byte, maxTopics, maxBytes int) (admission, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trie.count(topic) > 0 {
		return already, nil
	}
	if maxTopics > 0 && s.trie.n >= maxTopics || maxBytes > 0 && s.trie.size+len(topic) > maxBytes {
		return overLimit, nil
	}
	own := exactCopy(topic)
	s.trie.add(own, true)
	s.publish()
	return admitted, own
}

// remove takes topic out of the set and reports whether it was there.
func (s *subscriptions) remove(topic []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trie.count(topic) == 0 {
		return false
	}
	for {
		if left, _ := s.trie.remove(topic); left == 0 {
			s.publish()
			return true
		}
	}
}

// ref counts one more subscription to topic and reports whether it is the
// first.
func (s *subscriptions) ref(topic []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trie.add(topic, false) > 1 {
		return false
	}
	s.publish()
	return true
}

// unref undoes one ref and reports whether that was the last.
func (s *subscriptions) unref(topic []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if left, ok := s.trie.remove(topic); !ok || left > 0 {
		return false
	}
	s.publish()
	return true
}

// clear empties the set and returns the topics it held.
func (s *subscriptions) clear() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, 0, s.trie.n)
	s.trie.each(func(t []byte, _ int) { out = append(out, t) })
	s.trie.reset()
	s.publish()
	return out
}

// len is the number of topics and their bytes.
func (s *subscriptions) len() (n, size int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.trie.n, s.trie.size
}

// match reports whether some topic in the set is a prefix of data.
func (s *subscriptions) match(data []byte) bool {
	sn := s.snap.Load()
	switch {
	case sn == nil:
		return false
	case sn.all:
		return true
	case !sn.big:
		for _, t := range sn.topics {
			if len(data) >= len(t) && string(data[:len(t)]) == string(t) {
				return true
			}
		}
		return false
	}
	s.mu.RLock()
	ok := s.trie.match(data)
	s.mu.RUnlock()
	return ok
}
