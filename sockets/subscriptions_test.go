package sockets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subTopic is the i-th of a sequence of distinct 8-byte topics, spread
// over the byte space as a subscriber's random-looking ids would be.
func subTopic(i int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(i)*0x9E3779B97F4A7C15)
}

func subTopics(n int) [][]byte {
	ts := make([][]byte, n)
	for i := range ts {
		ts[i] = subTopic(i)
	}
	return ts
}

// fillSubscriptions adds topics to s.
func fillSubscriptions(s *subscriptions, topics [][]byte) {
	for _, t := range topics {
		s.admit(t, 0, 0)
	}
}

// subHitMiss returns a 64-byte message that starts with the i-th topic and
// one that matches none of subTopics(n).
func subHitMiss(i, n int) (hit, miss []byte) {
	hit = append(subTopic(i), make([]byte, 56)...)
	miss = append(subTopic(n+1), make([]byte, 56)...)
	return hit, miss
}

var subBenchCounts = []int{1e3, 1e4, 1e5, 1e6}

// BenchmarkSubscriptionsAdd adds n distinct 8-byte subscriptions to an
// empty set; ns/sub is the cost of one.
func BenchmarkSubscriptionsAdd(b *testing.B) {
	for _, n := range subBenchCounts {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			topics := subTopics(n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var s subscriptions
				fillSubscriptions(&s, topics)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sub")
		})
	}
}

// BenchmarkSubscriptionsMatch matches a 64-byte message against n
// subscriptions: one that one of them matches, and one that none does.
func BenchmarkSubscriptionsMatch(b *testing.B) {
	for _, n := range subBenchCounts {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var s subscriptions
			fillSubscriptions(&s, subTopics(n))
			hit, miss := subHitMiss(n/2, n)
			for _, c := range []struct {
				name string
				msg  []byte
				want bool
			}{{"hit", hit, true}, {"miss", miss, false}} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for range b.N {
						if s.match(c.msg) != c.want {
							b.Fatal("wrong match")
						}
					}
				})
			}
		})
	}
}

// BenchmarkSubscriptionsMatchFew is matching on the common case, a
// subscriber with one or ten topics.
func BenchmarkSubscriptionsMatchFew(b *testing.B) {
	for _, n := range []int{1, 10} {
		var s subscriptions
		fillSubscriptions(&s, subTopics(n))
		hit, miss := subHitMiss(n-1, n)
		for _, c := range []struct {
			name string
			msg  []byte
			want bool
		}{{"hit", hit, true}, {"miss", miss, false}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					if s.match(c.msg) != c.want {
						b.Fatal("wrong match")
					}
				}
			})
		}
	}
}

// Adding a subscription to a set of 10,000 costs a few allocations, not
// a number that grows with the set; matching allocates nothing.
func TestSubscriptionsAllocs(t *testing.T) {
	const n = 10000
	topics := subTopics(n + 200)
	var s subscriptions
	fillSubscriptions(&s, topics[:n])
	next := n
	allocs := testing.AllocsPerRun(100, func() {
		if r, _ := s.admit(topics[next], 0, 0); r != admitted {
			t.Fatal("a new topic is not new")
		}
		next++
	})
	assert.LessOrEqual(t, allocs, 4.0, "allocations to add one subscription to %d", n)

	hit, miss := subHitMiss(n/2, n+200)
	require.True(t, s.match(hit))
	require.False(t, s.match(miss))
	allocs = testing.AllocsPerRun(100, func() {
		s.match(hit)
		s.match(miss)
	})
	assert.Zero(t, allocs, "allocations to match")
}

// checkTrie verifies the trie's shape against want (topic → count) and
// that it holds no more topic memory than the topics' own bytes: a node's
// key lies on its parent's, a branch that is no topic has two kids or
// more, and every copy a node keeps is of a topic still there.
func checkTrie(t *testing.T, tr *topicTrie, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	tr.each(func(k []byte, n int) { got[string(k)] = n })
	if len(want) == 0 {
		want = map[string]int{}
	}
	require.Equal(t, want, got)
	size := 0
	for k := range want {
		size += len(k)
	}
	require.Equal(t, len(want), tr.n)
	require.Equal(t, size, tr.size)

	pinned := map[*byte]string{} // each backing array by its last byte, and what it holds
	var walk func(n *trieNode, parent []byte)
	walk = func(n *trieNode, parent []byte) {
		if n != &tr.root {
			switch {
			case n.off != len(parent) || n.off >= len(n.key) || string(parent) != string(n.key[:n.off]):
				t.Fatalf("node %q (edge at %d) under %q", n.key, n.off, parent)
			case n.refs == 0 && len(n.kids) < 2:
				t.Fatalf("branch %q with %d kids", n.key, len(n.kids))
			}
			full := n.key[:cap(n.key)]
			pinned[&full[len(full)-1]] = string(full)
		}
		for i, k := range n.kids {
			if k.n.key[k.n.off] != k.b || i > 0 && n.kids[i-1].b >= k.b {
				t.Fatalf("kids of %q out of order", n.key)
			}
			walk(k.n, n.key)
		}
	}
	walk(&tr.root, nil)
	copies := map[string]int{}
	for _, b := range pinned {
		if copies[b]++; copies[b] > 1 {
			t.Fatalf("two copies of %q kept", b)
		}
		if _, ok := want[b]; !ok {
			t.Fatalf("a copy of %q, which is gone, is kept", b)
		}
	}
}

// The trie against a map, with random adds and removes of topics that
// share long prefixes, part inside one another's edges and end on
// branches: counts, matching and the memory it keeps stay right.
func TestTopicTrieModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	long := bytes.Repeat([]byte("x"), 300)
	topic := func() []byte {
		switch rng.IntN(4) {
		case 0: // short, over a tiny alphabet: deep shared prefixes
			b := make([]byte, rng.IntN(6))
			for i := range b {
				b[i] = "ab"[rng.IntN(2)]
			}
			return b
		case 1: // a long edge, cut anywhere
			return append([]byte("L"), long[:rng.IntN(len(long))]...)
		case 2: // a long edge with a different tail
			return append(append([]byte("L"), long[:rng.IntN(len(long))]...), "ab"[rng.IntN(2)])
		default: // wide fan-out
			return []byte{byte(rng.IntN(256)), byte(rng.IntN(4))}
		}
	}
	var tr topicTrie
	want := map[string]int{}
	for step := range 20000 {
		k := topic()
		if rng.IntN(2) == 0 {
			ks := string(k)
			want[ks]++
			n := tr.add(k, false)
			// The trie must not keep the caller's memory: scribble on it.
			for i := range k {
				k[i] = '!'
			}
			require.Equal(t, want[ks], n, "count after add")
		} else {
			left, ok := tr.remove(k)
			if want[string(k)] == 0 {
				require.False(t, ok)
			} else {
				require.True(t, ok)
				want[string(k)]--
				require.Equal(t, want[string(k)], left)
				if want[string(k)] == 0 {
					delete(want, string(k))
				}
			}
		}
		if step%499 == 0 {
			checkTrie(t, &tr, want)
		}
		msg := append(topic(), topic()...)
		brute := false
		for w := range want {
			brute = brute || bytes.HasPrefix(msg, []byte(w))
		}
		require.Equal(t, brute, tr.match(msg), "match %q", msg)
	}
	for k := range want {
		for want[k] > 0 {
			_, ok := tr.remove([]byte(k))
			require.True(t, ok)
			want[k]--
		}
		delete(want, k)
	}
	checkTrie(t, &tr, want)
	require.Empty(t, tr.root.kids)
}

// subscriptions matches from its lock-free snapshot while small and from
// the trie once big, and moves between the two as topics come and go.
func TestSubscriptionsSmallAndBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s subscriptions
	want := map[string]int{}
	topic := func() []byte {
		b := make([]byte, rng.IntN(3))
		for i := range b {
			b[i] = "abcdefgh"[rng.IntN(8)]
		}
		return b
	}
	sizes := map[bool]int{}
	for range 5000 {
		k := topic()
		switch rng.IntN(3) {
		case 0:
			assert.Equal(t, want[string(k)] == 0, s.ref(k))
			want[string(k)]++
		case 1:
			assert.Equal(t, want[string(k)] == 1, s.unref(k), "the last of %q", k)
			if want[string(k)] > 0 {
				want[string(k)]--
			}
		default:
			assert.Equal(t, want[string(k)] > 0, s.remove(k), "%q was there", k)
			delete(want, string(k))
		}
		held := 0
		for _, c := range want {
			if c > 0 {
				held++
			}
		}
		require.Equal(t, held, s.trie.n)
		sizes[held > smallSet]++
		msg := append(topic(), topic()...)
		brute := false
		for w, c := range want {
			brute = brute || c > 0 && bytes.HasPrefix(msg, []byte(w))
		}
		require.Equal(t, brute, s.match(msg), "match %q with %d topics", msg, held)
	}
	assert.Positive(t, sizes[false], "small sets seen")
	assert.Positive(t, sizes[true], "big sets seen")
}

// admit keeps a subscriber within its limits and reports each case.
func TestSubscriptionsAdmit(t *testing.T) {
	var s subscriptions
	for _, c := range []struct {
		topic string
		want  admission
	}{
		{"aaaa", admitted}, {"bb", admitted}, {"aaaa", already},
		{"c", overLimit}, // a third topic
		{"", overLimit},
	} {
		got, own := s.admit([]byte(c.topic), 2, 8)
		assert.Equal(t, c.want, got, "%q", c.topic)
		assert.Equal(t, c.want == admitted, own != nil, "%q: the copy", c.topic)
	}
	require.True(t, s.remove([]byte("bb")))
	got, _ := s.admit([]byte("cccc"), 2, 8)
	assert.Equal(t, admitted, got, "8 bytes in all")
	require.True(t, s.remove([]byte("cccc")))
	got, _ = s.admit([]byte("ccccc"), 2, 8)
	assert.Equal(t, overLimit, got, "9 bytes in all")
	got, _ = s.admit([]byte(""), 2, 8)
	assert.Equal(t, admitted, got, "the empty topic counts as one, of no bytes")
	assert.True(t, s.match([]byte("anything")))
	assert.False(t, s.remove([]byte("ccccc")), "never admitted")
	n, size := s.len()
	assert.Equal(t, 2, n)
	assert.Equal(t, 4, size)
}
