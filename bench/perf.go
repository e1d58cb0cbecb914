package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zmqkit/zmqkit/sockets"
)

// The perf tools speak libzmq's perf/ interface: the same arguments and the
// same result lines as local_thr, remote_thr, local_lat and remote_lat, so
// either side can be a libzmq program or run on another machine. They keep
// libzmq's semantics too, so that any pairing is a fair fight: default
// socket options (HWMs of 1000, as libzmq's tools), and a new message
// (a new buffer) for every send.

// LocalThr binds a PULL socket, receives count messages of size bytes and
// prints the rate, timed from the first message to the last.
func LocalThr(ctx context.Context, w io.Writer, bind string, size, count int) error {
	if size <= 0 || count <= 0 {
		return fmt.Errorf("local-thr: size and count must be positive")
	}
	pull, err := sockets.NewPull(sockets.WithLinger(0))
	if err != nil {
		return err
	}
	defer pull.Close()
	if _, err := pull.Listen(bind); err != nil {
		return err
	}
	m, err := pull.RecvMsg(ctx)
	if err != nil {
		return err
	}
	if err := checkSize(m, size); err != nil {
		return err
	}
	start := time.Now()
	for i := 1; i < count; i++ {
		if m, err = pull.RecvMsg(ctx); err != nil {
			return err
		}
		if err := checkSize(m, size); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	if elapsed <= 0 {
		elapsed = time.Microsecond
	}
	rate := float64(count) / elapsed.Seconds()
	fmt.Fprintf(w, "message size: %d [B]\n", size)
	fmt.Fprintf(w, "message count: %d\n", count)
	fmt.Fprintf(w, "mean throughput: %d [msg/s]\n", int64(rate))
	fmt.Fprintf(w, "mean throughput: %.3f [Mb/s]\n", rate*float64(size)*8/1e6)
	return nil
}

func checkSize(m sockets.Msg, size int) error {
	if m.Len() != 1 || len(m.Head) != size {
		return fmt.Errorf("message of unexpected size (%d frames, %d bytes, want 1 frame of %d)", m.Len(), m.Size(), size)
	}
	return nil
}

// RemoteThr connects a PUSH socket and sends count messages of size bytes,
// then waits until they are written out, as libzmq's remote_thr does with
// its infinite linger: at most a minute, and not past ctx's deadline.
func RemoteThr(ctx context.Context, connect string, size, count int) error {
	if size <= 0 || count <= 0 {
		return fmt.Errorf("remote-thr: size and count must be positive")
	}
	linger := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		linger = max(min(linger, time.Until(dl)), 0)
	}
	push, err := sockets.NewPush(sockets.WithLinger(linger))
	if err != nil {
		return err
	}
	if err := push.Dial(connect); err != nil {
		push.Close()
		return err
	}
	for i := 0; i < count; i++ {
		if err := push.SendMsg(ctx, sockets.Msg{Head: make([]byte, size)}); err != nil {
			push.Close()
			return err
		}
	}
	return push.Close() // lingers until the queue is written
}

// LocalLat binds a REP socket and echoes count requests.
func LocalLat(ctx context.Context, bind string, size, count int) error {
	if size <= 0 || count <= 0 {
		return fmt.Errorf("local-lat: size and count must be positive")
	}
	rep, err := sockets.NewRep(sockets.WithLinger(time.Second))
	if err != nil {
		return err
	}
	defer rep.Close()
	if _, err := rep.Listen(bind); err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		m, err := rep.RecvMsg(ctx)
		if err != nil {
			return err
		}
		if err := checkSize(m, size); err != nil {
			return err
		}
		if err := rep.SendMsg(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// RemoteLat connects a REQ socket, makes count round trips and prints the
// average one-way latency (half the round trip), as libzmq's remote_lat.
func RemoteLat(ctx context.Context, w io.Writer, connect string, size, count int) error {
	if size <= 0 || count <= 0 {
		return fmt.Errorf("remote-lat: size and count must be positive")
	}
	req, err := sockets.NewReq(sockets.WithLinger(0))
	if err != nil {
		return err
	}
	defer req.Close()
	if err := req.Dial(connect); err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < count; i++ {
		if err := req.SendMsg(ctx, sockets.Msg{Head: make([]byte, size)}); err != nil {
			return err
		}
		m, err := req.RecvMsg(ctx)
		if err != nil {
			return err
		}
		if err := checkSize(m, size); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(w, "message size: %d [B]\n", size)
	fmt.Fprintf(w, "roundtrip count: %d\n", count)
	fmt.Fprintf(w, "average latency: %.3f [us]\n", float64(elapsed.Microseconds())/float64(count)/2)
	return nil
}
