package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zmqkit/zmqkit/sockets"
)

// onSIGHUP runs reload on every SIGHUP until stop is called: the
// long-running commands (devices, broker) read their files again then,
// instead of dying as a process does on SIGHUP by default. reload reports
// whether there was anything to read.
func onSIGHUP(log *slog.Logger, reload func() bool) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-hup:
			case <-done:
				return
			}
			if !reload() {
				log.Info("SIGHUP: nothing to reload")
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}

// peerDropper is what drops peers by predicate: a socket, the broker.
type peerDropper interface {
	DisconnectPeers(drop func(sockets.Peer) bool) int
}

// reloadClientList reads c's @file client list again and logs the result;
// it reports whether c has such a list. Once a new list is in force, the
// clients on s connected with a key it no longer holds are disconnected,
// and each is logged: a revoked key must not keep the session it opened.
func reloadClientList(log *slog.Logger, c *curveFlags, s peerDropper) bool {
	ok, n, err := c.reloadClients()
	switch {
	case err != nil:
		log.Error("reload failed; the client list in force stays", "flag", c.flagName("clients"), "err", err)
	case ok:
		log.Info("reloaded", "flag", c.flagName("clients"), "keys", n)
		dropped := s.DisconnectPeers(func(p sockets.Peer) bool {
			if c.admits(p) {
				return false
			}
			log.Info("disconnected: client key no longer listed", "flag", c.flagName("clients"), "user", p.UserID, "remote", p.Remote)
			return true
		})
		if dropped > 0 {
			log.Info("disconnected clients no longer listed", "flag", c.flagName("clients"), "clients", dropped)
		}
	}
	return ok
}
