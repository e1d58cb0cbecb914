//go:build libzmq

package bench

import (
	"context"
	"encoding/binary"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// LibzmqBuiltIn reports whether this build can measure libzmq (build with
// -tags libzmq and Debian's libzmq3-dev installed).
const LibzmqBuiltIn = true

// endMark ends a libzmq throughput run (PUSH/PULL loses nothing, so the
// receiver stops when it arrives).
const endMark = probe - 1

func libzmqJobs(sizes []int, lim limits) []job {
	var jobs []job
	for _, size := range sizes {
		jobs = append(jobs, job{"libzmq pushpull tcp", func(ctx context.Context) Row { return libzmqThroughput(ctx, size, lim) }})
	}
	for _, size := range sizes {
		jobs = append(jobs, job{"libzmq reqrep tcp", func(ctx context.Context) Row { return libzmqLatency(ctx, size, lim) }})
	}
	return jobs
}

func zmqPair(lt, rt zmq.Type) (local, remote *zmq.Socket, err error) {
	if local, err = zmq.NewSocket(lt); err != nil {
		return nil, nil, err
	}
	if remote, err = zmq.NewSocket(rt); err != nil {
		local.Close()
		return nil, nil, err
	}
	local.SetLinger(0)
	remote.SetLinger(0)
	if err = local.Bind("tcp://127.0.0.1:*"); err == nil {
		var ep string
		if ep, err = local.GetLastEndpoint(); err == nil {
			err = remote.Connect(ep)
		}
	}
	if err != nil {
		local.Close()
		remote.Close()
		return nil, nil, err
	}
	return local, remote, nil
}

func libzmqThroughput(ctx context.Context, size int, lim limits) Row {
	row := Row{System: "libzmq", Pattern: "pushpull", Transport: "tcp", Size: size}
	pull, push, err := zmqPair(zmq.PULL, zmq.PUSH)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer pull.Close()
	defer push.Close()
	pull.SetRcvtimeo(5 * time.Second)
	cpu0 := cpuTime()
	start := time.Now()
	type result struct {
		n       int
		elapsed time.Duration
		err     error
	}
	sent := make(chan result, 1)
	go func() {
		i := 0
		var err error
		for ; lim.more(i, start) && ctx.Err() == nil; i++ {
			p := make([]byte, size)
			binary.BigEndian.PutUint64(p, uint64(i))
			if _, err = push.SendBytes(p, 0); err != nil {
				break
			}
		}
		elapsed := time.Since(start)
		end := make([]byte, size)
		binary.BigEndian.PutUint64(end, endMark)
		push.SendBytes(end, 0)
		sent <- result{i, elapsed, err}
	}()
	var got uint64
	for {
		b, err := pull.RecvBytes(0)
		if err != nil {
			row.Err = err.Error()
			break
		}
		seq := binary.BigEndian.Uint64(b)
		if seq == endMark {
			break
		}
		if seq != got {
			row.Reordered++
		}
		got++
	}
	recvElapsed := time.Since(start)
	s := <-sent
	cpu := cpuTime() - cpu0
	if s.err != nil && row.Err == "" {
		row.Err = s.err.Error()
	}
	row.Sent, row.Received = uint64(s.n), got
	if got < row.Sent {
		row.Lost = row.Sent - got
	}
	row.SendRate = float64(s.n) / s.elapsed.Seconds()
	row.RecvRate = float64(got) / recvElapsed.Seconds()
	row.SendMBps, row.RecvMBps = mb(row.SendRate, size), mb(row.RecvRate, size)
	if got > 0 {
		row.CPUPerMsg = float64(cpu.Nanoseconds()) / float64(got)
	}
	return row
}

func libzmqLatency(ctx context.Context, size int, lim limits) Row {
	row := Row{System: "libzmq", Pattern: "reqrep", Transport: "tcp", Size: size}
	rep, req, err := zmqPair(zmq.REP, zmq.REQ)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer req.Close()
	rep.SetRcvtimeo(200 * time.Millisecond)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rep.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := rep.RecvBytes(0)
			if err != nil {
				continue // timeout: look at stop again
			}
			if _, err := rep.SendBytes(b, 0); err != nil {
				return
			}
		}
	}()
	req.SetRcvtimeo(5 * time.Second)
	call := func(_ context.Context, p []byte) ([]byte, error) {
		if _, err := req.SendBytes(p, 0); err != nil {
			return nil, err
		}
		return req.RecvBytes(0)
	}
	latency(ctx, call, size, lim, &row)
	close(stop)
	<-done
	return row
}
