package relay_test

import (
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/internal/testutil/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "tcp://" + ln.Addr().String()
}

func dial(t *testing.T, r *relay.Relay) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.Endpoint()[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("got %q, want %q", got, msg)
	}
}

func TestPauseHoldsResumeDelivers(t *testing.T) {
	r := relay.Start(t, echoServer(t))
	c := dial(t, r)
	roundTrip(t, c, "before")

	r.Pause()
	r.Pause() // idempotent
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 8)); err == nil || n != 0 {
		t.Fatalf("read %d bytes through a paused relay (err %v)", n, err)
	}

	r.Resume()
	r.Resume() // idempotent
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after resume: %q, %v", got, err)
	}
	// A pipe counts its bytes once its write has returned, which may be
	// after the echo came back.
	want := int64(len("beforeheld"))
	for deadline := time.Now().Add(5 * time.Second); r.Up() != want || r.Down() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %d up, %d down; want %d each way", r.Up(), r.Down(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	r := relay.Start(t, echoServer(t))
	c := dial(t, r)
	roundTrip(t, c, "x")
	r.Pause() // a paused pipe must not hold Close up
	r.Close()
	r.Close() // idempotent
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	r := relay.Start(t, target)
	c := dial(t, r)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection to an unreachable target stays open")
	}
}
