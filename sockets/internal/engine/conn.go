package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a connection ends, as returned by Serve.
var (
	ErrHeartbeatTimeout = errors.New("heartbeat timeout: no traffic from the peer")
	ErrPeerError        = errors.New("peer sent ERROR")
	// ErrStalled: a message was under way and its next ProgressStep bytes
	// (or its end) did not come within the progress timeout. A peer that
	// trickles a frame, or stops half-way, costs its connection, not
	// memory held for ever.
	ErrStalled = errors.New("message stalled: too little of it arrived within the progress timeout")
	errDrained = errors.New("pipe closed and drained")
)

const (
	writeBufSize = 64 << 10
	batchSize    = 256
	// idleShrink is how long a connection waits with nothing to read
	// before its read buffer, grown under load, is swapped for a small one.
	idleShrink = 500 * time.Millisecond
)

// conn moves one pipe's messages over one connection: a reader goroutine
// decodes frames into pipe.In, the calling goroutine encodes pipe.Out.
type conn struct {
	c    net.Conn
	rw   io.ReadWriter // c, or its bare calls where it has them (connIO)
	p    *Pipe
	o    *Options
	bw   *Writer
	dec  *Decoder
	wake chan struct{} // writer: pipe.Out became non-empty, or a PONG is due
	room chan struct{} // reader: pipe.In has room again

	readerDone chan struct{}
	stop       chan struct{} // closed when the writer has returned
	readErr    error
	readFailed bool // the connection failed on the reading side first

	pongMu sync.Mutex
	pongs  [][]byte // contexts of PINGs to answer

	peerTTL atomic.Int64 // ns; the peer asked us to time out after this

	// The read deadline in force and what it stands for; the progress of
	// the message under way (see read).
	deadline  time.Time
	why       deadlineKind
	inMsg     bool
	markBytes int64
	markAt    time.Time

	cipher FrameCipher // set when the mechanism encrypts (CURVE)
	// noIdle: a passed read deadline ends the connection (ZWS), so none
	// is set for the idle shrink.
	noIdle bool
}

// Serve runs the pipe over c until the connection fails, the peer goes
// silent past the heartbeat timeout, or p.Out is closed and drained. It
// closes c before returning, and returns nil only in that last case.
func Serve(c net.Conn, p *Pipe, o *Options) error {
	e := &conn{
		c:          c,
		p:          p,
		o:          o,
		wake:       make(chan struct{}, 1),
		room:       make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		stop:       make(chan struct{}),
	}
	_, e.noIdle = c.(deadlineEnds)
	e.rw = connIO(c)
	e.bw = newPooledWriter(e.rw)
	e.dec = NewDecoder(readerFunc(e.read), o.MaxMsgSize)
	e.dec.Budget = o.Budget
	// A pipe that dials outlives its connections: what this one reads is
	// marked as this peer's in the queue, message by message.
	p.In.SetSource(p.peer.Load())
	p.live.Store(true)
	if ci := p.Peer().Cipher; ci != nil {
		e.cipher = ci
		e.bw.SetCipher(ci)
		e.dec.Encrypted = true
	}
	p.Out.SetReadable(e.wakeWriter)
	p.In.SetWritable(e.wakeReader)
	go e.reader()
	werr := e.writer()
	close(e.stop)
	_ = c.Close()
	<-e.readerDone
	p.orphan()
	p.Out.SetReadable(nil)
	p.In.SetWritable(nil)
	switch {
	case errors.Is(werr, errDrained):
		return nil
	case werr == nil || e.readFailed || errors.Is(e.readErr, ErrHeartbeatTimeout) || errors.Is(e.readErr, ErrTooLarge) ||
		errors.Is(e.readErr, ErrStalled) || errors.Is(e.readErr, ErrBudget):
		return e.readErr
	default:
		return werr
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (e *conn) wakeWriter() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *conn) wakeReader() {
	select {
	case e.room <- struct{}{}:
	default:
	}
}

// readTimeout is how long the peer may stay silent: our heartbeat interval
// plus its timeout when we send PINGs, or the TTL the peer asked for.
func (e *conn) readTimeout() time.Duration {
	var t time.Duration
	if e.o.HeartbeatIvl > 0 {
		to := e.o.HeartbeatTimeout
		if to <= 0 {
			to = e.o.HeartbeatIvl
		}
		t = e.o.HeartbeatIvl + to
	}
	if ttl := time.Duration(e.peerTTL.Load()); ttl > 0 && (t == 0 || ttl < t) {
		t = ttl
	}
	return t
}

// batchPool holds the writers' batches of messages while they are idle.
var batchPool = sync.Pool{New: func() any {
	b := make([]Msg, 0, batchSize)
	return &b
}}

func getBatch() *[]Msg { return batchPool.Get().(*[]Msg) }

func putBatch(bp *[]Msg) {
	if bp == nil {
		return
	}
	clear((*bp)[:cap(*bp)])
	*bp = (*bp)[:0]
	batchPool.Put(bp)
}

type deadlineKind uint8

const (
	deadlineNone deadlineKind = iota
	deadlineSilence
	deadlineProgress
	deadlineIdle
)

// read is the decoder's byte source. It arms the read deadline for what
// the connection waits for: between messages, the peer's silence past the
// heartbeat timeout, and after idleShrink a smaller read buffer (ErrIdle);
// inside a message, also the progress timeout (ErrStalled).
func (e *conn) read(b []byte) (int, error) {
	var dl time.Time
	why := deadlineNone
	t := e.readTimeout()
	pt := e.o.ProgressTimeout
	shrinkable := e.dec.Shrinkable() && !e.noIdle
	var now time.Time
	if t > 0 || pt > 0 || shrinkable {
		now = time.Now()
	}
	if t > 0 {
		dl, why = now.Add(t), deadlineSilence
	}
	if pt > 0 && e.dec.InMsg() {
		if total := e.dec.Total(); !e.inMsg || total-e.markBytes >= ProgressStep {
			e.inMsg, e.markBytes, e.markAt = true, total, now
		}
		if pd := e.markAt.Add(pt); why == deadlineNone || pd.Before(dl) {
			dl, why = pd, deadlineProgress
		}
	} else {
		e.inMsg = false
		if shrinkable {
			// Re-armed at most every idleShrink/2: under load most reads
			// start with an empty buffer, and each SetReadDeadline costs.
			id := now.Add(idleShrink)
			if e.why == deadlineIdle && e.deadline.After(now.Add(idleShrink/2)) {
				id = e.deadline
			}
			if why == deadlineNone || id.Before(dl) {
				dl, why = id, deadlineIdle
			}
		}
	}
	if !dl.Equal(e.deadline) {
		_ = e.c.SetReadDeadline(dl)
		e.deadline = dl
	}
	e.why = why
	n, err := e.rw.Read(b)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.deadline = time.Unix(1, 0) // passed: re-arm on the next read
			switch why {
			case deadlineIdle:
				err = ErrIdle
			case deadlineProgress:
				err = fmt.Errorf("%w (%v)", ErrStalled, pt)
			default:
				err = ErrHeartbeatTimeout
			}
		}
	}
	return n, err
}

// readBatch bounds how many messages the reader decodes before it hands
// them to the pipe: the ones a single read brought, up to this many, go in
// under one lock of the queue.
const readBatch = 64

func (e *conn) reader() {
	defer close(e.readerDone)
	defer e.wakeWriter()
	batch := make([]Msg, 0, readBatch)
	for {
		// The first message may wait for the network; the rest are taken
		// only while whole messages are already buffered.
		batch = batch[:0]
		var err error
		for len(batch) == 0 || (len(batch) < readBatch && e.cipher == nil && e.dec.MsgBuffered()) {
			var m Msg
			var isCmd bool
			if m, isCmd, err = e.readMsg(); err == nil && isCmd {
				m, err = e.command(m.Head)
			}
			if err != nil {
				break
			}
			if m.Head != nil {
				batch = append(batch, m)
			}
		}
		// The batch gets memory of its own; the read buffer is free again.
		// (Opened CURVE frames have theirs already.)
		if e.cipher == nil {
			e.dec.Detach(batch)
		}
		if !e.deliver(batch) {
			e.readErr = io.EOF
			return
		}
		clear(batch)
		if err != nil {
			e.fail(err)
			return
		}
	}
}

// readMsg reads the next message or command; on an encrypted connection it
// opens each MESSAGE and puts multipart messages back together.
func (e *conn) readMsg() (Msg, bool, error) {
	if e.cipher == nil {
		return e.dec.ReadMsg()
	}
	var m Msg
	var size int64
	for n := 0; ; n++ {
		sealed, _, err := e.dec.ReadMsg()
		if err != nil {
			return Msg{}, false, err
		}
		if len(sealed.Tail) > 0 {
			return Msg{}, false, fmt.Errorf("%w: a MESSAGE is a single frame", ErrBadFlags)
		}
		flags, frame, err := e.cipher.Open(sealed.Head)
		e.dec.Release() // the plaintext is a copy
		if err != nil {
			return Msg{}, false, err
		}
		if flags&flagCommand != 0 {
			if n > 0 || flags&flagMore != 0 {
				return Msg{}, false, fmt.Errorf("%w: command inside a multipart message", ErrBadFlags)
			}
			return Msg{Head: frame}, true, nil
		}
		size += int64(len(frame))
		switch {
		case e.dec.MaxMsgSize > 0 && size > e.dec.MaxMsgSize:
			return Msg{}, false, fmt.Errorf("%w: message of more than %d bytes", ErrTooLarge, e.dec.MaxMsgSize)
		case n+1 >= MaxFrames:
			return Msg{}, false, fmt.Errorf("%w: more than %d", ErrTooManyFrames, MaxFrames)
		case n == 0:
			m.Head = frame
		default:
			m.Tail = append(m.Tail, frame)
		}
		if flags&flagMore == 0 {
			return m, false, nil
		}
	}
}

// deliver stores ms in pipe.In, waiting for room while it is full. It
// returns false when the pipe is closed or the connection is stopping.
func (e *conn) deliver(ms []Msg) bool {
	for len(ms) > 0 {
		n, r, kept := e.p.In.OfferBatch(ms)
		ms = ms[n:]
		for r == Full {
			select {
			case <-e.room:
			case <-e.stop:
				return false
			}
			// We, not the peer, held the message up: its progress is
			// measured afresh from the next read.
			e.inMsg = false
			if kept {
				// ms[0] went through the interceptor already.
				if r = e.p.In.TryPush(ms[0]); r == Pushed {
					ms = ms[1:]
				}
			} else {
				n, r, kept = e.p.In.OfferBatch(ms)
				ms = ms[n:]
			}
		}
		if r == Closed {
			return false
		}
	}
	return true
}

// fail records why reading stopped and, unless the writer has finished
// already, closes the connection: a writer blocked in Write on a peer that
// no longer reads would otherwise keep a dead connection (silent past the
// heartbeat timeout, or sending garbage) open for ever.
func (e *conn) fail(err error) {
	e.readErr = err
	select {
	case <-e.stop:
	default:
		e.readFailed = true
		_ = e.c.Close()
	}
}

// command acts on a ZMTP command. SUBSCRIBE and CANCEL (ZMTP 3.1) come back
// as the 3.0 subscription messages that the sockets understand.
func (e *conn) command(frame []byte) (Msg, error) {
	name, data, err := ParseCommand(frame)
	if err != nil {
		return Msg{}, err
	}
	switch name {
	case "PING":
		if len(data) < 2 {
			return Msg{}, fmt.Errorf("%w: short PING", ErrBadFlags)
		}
		if ttl := binary.BigEndian.Uint16(data); ttl > 0 {
			e.peerTTL.Store(int64(time.Duration(ttl) * 100 * time.Millisecond))
		}
		ctx := data[2:]
		if len(ctx) > 16 {
			ctx = ctx[:16]
		}
		e.pongMu.Lock()
		if len(e.pongs) < 16 {
			e.pongs = append(e.pongs, append([]byte(nil), ctx...))
		}
		e.pongMu.Unlock()
		e.wakeWriter()
	case "SUBSCRIBE", "CANCEL":
		b := make([]byte, 1+len(data))
		if name == "SUBSCRIBE" {
			b[0] = 1
		}
		copy(b[1:], data)
		return Msg{Head: b}, nil
	case "ERROR":
		reason := data
		if len(reason) > 0 && int(reason[0]) <= len(reason)-1 {
			reason = reason[1 : 1+int(reason[0])]
		}
		return Msg{}, fmt.Errorf("%w: %q", ErrPeerError, reason)
	}
	return Msg{}, nil // PONG and unknown commands need nothing
}

func (e *conn) writeCommands() error {
	e.pongMu.Lock()
	pongs := e.pongs
	e.pongs = nil
	e.pongMu.Unlock()
	for _, ctx := range pongs {
		if err := e.bw.WriteCommand("PONG", ctx); err != nil {
			return err
		}
	}
	return nil
}

func (e *conn) writer() error {
	var tick <-chan time.Time
	if e.o.HeartbeatIvl > 0 {
		var stop func()
		tick, stop = heartbeatTicker(e.o)
		defer stop()
	}
	var ttl [2]byte
	binary.BigEndian.PutUint16(ttl[:], uint16(min(e.o.HeartbeatTTL/(100*time.Millisecond), 0xffff)))
	var bp *[]Msg // from batchPool while there is traffic
	defer func() { putBatch(bp) }()
	for {
		if err := e.writeCommands(); err != nil {
			return err
		}
		if bp == nil {
			bp = getBatch()
		}
		batch, empty, closed := e.p.Out.PopBatch((*bp)[:0], batchSize, writeBufSize)
		*bp = batch
		for i := range batch {
			if err := e.bw.WriteMsg(batch[i]); err != nil {
				return err
			}
			batch[i] = Msg{}
		}
		if !empty {
			select {
			case <-tick:
				if err := e.ping(ttl[:]); err != nil {
					return err
				}
			default:
			}
			continue
		}
		if e.bw.Buffered() > 0 {
			if err := e.bw.Flush(); err != nil {
				return err
			}
		}
		if closed {
			return errDrained
		}
		// Idle: the staging buffer and the batch go back to their pools
		// meanwhile.
		e.bw.Release()
		putBatch(bp)
		bp = nil
		select {
		case <-e.wake:
		case <-e.readerDone:
			return nil
		case <-tick:
			if err := e.ping(ttl[:]); err != nil {
				return err
			}
		}
	}
}

// heartbeatTicker paces the PINGs: Options.Ticker's, or a real ticker.
func heartbeatTicker(o *Options) (<-chan time.Time, func()) {
	if o.Ticker != nil {
		return o.Ticker(o.HeartbeatIvl)
	}
	t := time.NewTicker(o.HeartbeatIvl)
	return t.C, t.Stop
}

func (e *conn) ping(ttl []byte) error {
	if err := e.bw.WriteCommand("PING", ttl); err != nil {
		return err
	}
	return e.bw.Flush()
}
