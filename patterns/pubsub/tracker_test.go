package pubsub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStampRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	for _, st := range []Stamp{
		{},
		{Publisher: 1, Seq: 2, TopicSeq: 3, Time: now},
		{Publisher: ^uint64(0), Seq: 1 << 60, Time: now, Replay: true},
		{Publisher: 7, Seq: 9, TopicSeq: 4, Time: now, Deleted: true},
		{Publisher: 7, Seq: 9, Time: now, Heartbeat: true},
	} {
		b, err := st.MarshalBinary()
		require.NoError(t, err)
		assert.Len(t, b, stampSize)
		assert.True(t, isStamp(b))
		var got Stamp
		require.NoError(t, got.UnmarshalBinary(b))
		assert.True(t, st.Time.Equal(got.Time))
		got.Time = st.Time
		assert.Equal(t, st, got)
	}
	var st Stamp
	for _, bad := range [][]byte{nil, []byte("zs"), make([]byte, stampSize), append([]byte("zs\x02"), make([]byte, 33)...)} {
		assert.ErrorIs(t, st.UnmarshalBinary(bad), ErrBadStamp)
	}
	b, _ := Stamp{Seq: 5}.MarshalBinary()
	r := withReplay(b)
	require.NoError(t, st.UnmarshalBinary(r))
	assert.True(t, st.Replay)
	require.NoError(t, st.UnmarshalBinary(b))
	assert.False(t, st.Replay, "withReplay copies")
}

func TestTracker(t *testing.T) {
	type obs struct {
		topic     string
		st        Stamp
		lost, at  uint64
		duplicate bool
	}
	data := func(pub, seq, tseq uint64) Stamp { return Stamp{Publisher: pub, Seq: seq, TopicSeq: tseq} }
	replay := func(pub, seq, tseq uint64) Stamp {
		return Stamp{Publisher: pub, Seq: seq, TopicSeq: tseq, Replay: true}
	}
	hb := func(pub, seq uint64) Stamp { return Stamp{Publisher: pub, Seq: seq, Heartbeat: true} }
	cases := []struct {
		name string
		all  bool
		seq  []obs
	}{
		{"stream: in order", true, []obs{
			{topic: "a", st: data(1, 5, 1)}, {topic: "b", st: data(1, 6, 1)}, {topic: "a", st: data(1, 7, 2)},
		}},
		{"stream: gap, duplicate", true, []obs{
			{topic: "a", st: data(1, 5, 1)}, {topic: "a", st: data(1, 9, 2), lost: 3, at: 6},
			{topic: "a", st: data(1, 9, 2), duplicate: true}, {topic: "a", st: data(1, 3, 1), duplicate: true},
		}},
		{"stream: heartbeat reveals a lost tail", true, []obs{
			{topic: "a", st: data(1, 5, 1)}, {st: hb(1, 5)}, {st: hb(1, 8), lost: 3, at: 6}, {topic: "a", st: data(1, 9, 2)},
		}},
		{"stream: a heartbeat first starts the count", true, []obs{
			{st: hb(1, 40)}, {topic: "a", st: data(1, 42, 1), lost: 1, at: 41},
		}},
		{"stream: replays are out of sequence", true, []obs{
			{topic: "a", st: replay(1, 2, 1)}, {topic: "b", st: replay(1, 7, 3)},
			{topic: "a", st: data(1, 10, 2)}, {topic: "a", st: replay(1, 10, 2), duplicate: true},
			{topic: "c", st: data(1, 11, 1)}, {topic: "b", st: data(1, 12, 4)}, {topic: "b", st: replay(1, 12, 4), duplicate: true},
		}},
		{"stream: publishers apart", true, []obs{
			{topic: "a", st: data(1, 5, 1)}, {topic: "a", st: data(2, 100, 1)},
			{topic: "a", st: data(1, 6, 2)}, {topic: "a", st: data(2, 102, 2), lost: 1, at: 101},
		}},
		{"topic: other topics' seqs do not matter", false, []obs{
			{topic: "a", st: data(1, 5, 1)}, {topic: "a", st: data(1, 90, 2)}, {st: hb(1, 200)},
			{topic: "b", st: data(1, 95, 7)}, {topic: "b", st: data(1, 96, 8)},
		}},
		{"topic: gap and duplicate replay", false, []obs{
			{topic: "a", st: replay(1, 5, 3)}, {topic: "a", st: data(1, 9, 4)},
			{topic: "a", st: replay(1, 9, 4), duplicate: true}, {topic: "a", st: data(1, 20, 7), lost: 2, at: 5},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr tracker
			tr.reset(c.all, 10)
			for i, o := range c.seq {
				lost, at, dup := tr.observe(o.topic, o.st)
				assert.Equal(t, o.lost, lost, "step %d lost", i)
				if o.lost > 0 {
					assert.Equal(t, o.at, at, "step %d first lost", i)
				}
				assert.Equal(t, o.duplicate, dup, "step %d duplicate", i)
			}
		})
	}
}

func TestTrackerBounds(t *testing.T) {
	var tr tracker
	tr.reset(false, 3)
	for i := uint64(1); i <= 10; i++ {
		tr.observe(string(rune('a'+i)), Stamp{Publisher: 1, Seq: i, TopicSeq: 1})
	}
	assert.LessOrEqual(t, len(tr.pubs[1].topics), 3)
	for i := uint64(1); i <= maxPublishers+10; i++ {
		tr.observe("a", Stamp{Publisher: i, Seq: 1, TopicSeq: 1})
	}
	assert.Len(t, tr.pubs, maxPublishers)
}
