package zmqwatermill

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zmqkit/zmqkit/devices"
	"github.com/zmqkit/zmqkit/sockets"
)

// DeviceConfig configures a Device.
type DeviceConfig struct {
	// Mode: FanOut makes a forwarder (XSUB frontend, XPUB backend),
	// Competing a streamer (PULL frontend, PUSH backend).
	Mode Mode
	// Frontend is where Publishers connect, Backend where Subscribers
	// connect; both are bound.
	Frontend, Backend string
	// FrontendOptions and BackendOptions are given to the two sockets
	// (security, high-water marks, …).
	FrontendOptions, BackendOptions []sockets.Option
	// ProxyOptions are given to the devices.Proxy (capture, control,
	// drain, logger).
	ProxyOptions []devices.Option
}

// Device is a zmqkit device between Publishers and Subscribers, so that
// many of each meet at two well-known endpoints without knowing each
// other: Publishers connect to Frontend, Subscribers to Backend. It is a
// devices.Proxy over two sockets it owns; zmqkit's forwarder and streamer
// commands, or libzmq's zmq_proxy, serve as well (a join request passes
// any XPUB, verbose or not).
//
// A FanOut Device forwards each topic's messages only to Subscribers of
// it, and their subscriptions (join requests too) upstream to the
// Publishers. A Competing Device's PUSH keeps messages, up to its
// high-water mark, until a Subscriber connects, and gives each to one; it
// knows no topics, so every Subscriber behind it must subscribe to every
// topic sent through it.
type Device struct {
	front, back *sockets.Socket
	frontAddr   string
	backAddr    string
	proxy       *devices.Proxy
	closeOnce   sync.Once
}

// NewDevice makes the device's sockets and binds them; Run moves the
// messages.
func NewDevice(config DeviceConfig) (*Device, error) {
	if err := checkMode(config.Mode); err != nil {
		return nil, err
	}
	if config.Frontend == "" || config.Backend == "" {
		return nil, ErrNoEndpoint
	}
	ft, bt := sockets.XSub, sockets.XPub
	if config.Mode == Competing {
		ft, bt = sockets.Pull, sockets.Push
	}
	front, frontAddr, err := bound(ft, config.FrontendOptions, config.Frontend)
	if err != nil {
		return nil, err
	}
	back, backAddr, err := bound(bt, config.BackendOptions, config.Backend)
	if err != nil {
		front.Close()
		return nil, err
	}
	var proxy *devices.Proxy
	if config.Mode == FanOut {
		proxy, err = devices.NewForwarder(front, back, config.ProxyOptions...)
	} else {
		proxy, err = devices.NewStreamer(front, back, config.ProxyOptions...)
	}
	if err != nil {
		front.Close()
		back.Close()
		return nil, fmt.Errorf("zmqwatermill: device: %w", err)
	}
	return &Device{front: front, back: back, frontAddr: frontAddr, backAddr: backAddr, proxy: proxy}, nil
}

func bound(t sockets.Type, opts []sockets.Option, addr string) (*sockets.Socket, string, error) {
	s, err := sockets.New(t, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("zmqwatermill: device: %w", err)
	}
	a, err := s.Listen(addr)
	if err != nil {
		s.Close()
		return nil, "", fmt.Errorf("zmqwatermill: device: %w", err)
	}
	return s, a, nil
}

// Frontend is the endpoint Publishers connect to, as bound.
func (d *Device) Frontend() string { return d.frontAddr }

// Backend is the endpoint Subscribers connect to, as bound.
func (d *Device) Backend() string { return d.backAddr }

// Stats returns the proxy's counters.
func (d *Device) Stats() devices.Stats { return d.proxy.Stats() }

// Run moves messages until ctx ends (it returns nil then) or a socket
// fails; see devices.Proxy.Run.
func (d *Device) Run(ctx context.Context) error {
	err := d.proxy.Run(ctx)
	if ctx.Err() != nil && (err == nil || errors.Is(err, ctx.Err())) {
		return nil
	}
	return err
}

// Close closes the device's sockets (after Run has returned, or to make it
// return). It is idempotent.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		d.front.Close()
		d.back.Close()
	})
	return nil
}
