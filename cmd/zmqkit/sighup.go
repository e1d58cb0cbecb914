package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
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

// reloadClientList reads c's @file client list again and logs the result;
// it reports whether c has such a list.
func reloadClientList(log *slog.Logger, c *curveFlags) bool {
	ok, n, err := c.reloadClients()
	switch {
	case err != nil:
		log.Error("reload failed; the client list in force stays", "flag", c.flagName("clients"), "err", err)
	case ok:
		log.Info("reloaded", "flag", c.flagName("clients"), "keys", n)
	}
	return ok
}
