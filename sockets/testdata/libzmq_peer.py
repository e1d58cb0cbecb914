#!/usr/bin/python3
"""A libzmq peer for zmqkit's interop tests (go test -tags interop ./sockets/).

Usage: libzmq_peer.py SPEC

SPEC is one JSON object:

  type        socket type: PUSH, PULL, PUB, SUB, XPUB, XSUB, REQ, REP,
              DEALER, ROUTER, PAIR
  bind        endpoint to bind (tcp://127.0.0.1:* lets the system pick a port)
  connect     endpoint, or list of endpoints, to connect to
  opts        socket options set before bind/connect: {"NAME": value} with
              NAME a zmq constant without the prefix (HEARTBEAT_IVL, ...);
              a string value is hex-encoded bytes (ROUTING_ID, ...)
  zap_plain   {"user": "password", ...}: run libzmq's ZAP handler
              (zmq.auth) accepting PLAIN clients with exactly these
              credentials; set opts PLAIN_SERVER to 1 with it
  linger_ms   ZMQ_LINGER at close (default 2000)
  monitor     true: report the socket's monitor events before exiting
  timeout_ms  the whole run's budget (default 15000); nothing blocks past it
  steps       what to do, in order; frames are hex strings:
    {"op": "send", "msgs": [[frame, ...], ...]}
    {"op": "recv", "count": N}            print N received messages
    {"op": "recv_until", "last": frame, "max": N}
                                          print messages until one whose first
                                          frame is `last` (at most N)
    {"op": "echo", "count": N, "prefix": [frame, ...]}
                                          receive N messages, printing each, and
                                          send each back with `prefix` in front
                                          (after the routing id on a ROUTER)
    {"op": "send_until_stdin", "msgs": [[frame, ...]], "interval_ms": I, "max": N}
                                          send the messages again every I ms
                                          until a line (or EOF) arrives on
                                          stdin, at most N rounds
    {"op": "wait_stdin"}                  wait for a line (or EOF) on stdin
    {"op": "sleep", "ms": N}
    {"op": "subscribe", "topic": frame}   SUB only
    {"op": "unsubscribe", "topic": frame} SUB only

Output: one JSON object a line on stdout, flushed at once:
  {"ev": "bound", "endpoint": E}           first, when binding
  {"ev": "recv", "frames": [hex, ...]}     each received message
  {"ev": "sent", "count": N}               after each send step
  {"ev": "stdin"}                          after a stdin wait ended
  {"ev": "monitor", "events": [name, ...]} with "monitor": true
  {"ev": "done"}                           last, on success (exit status 0)
  {"ev": "error", "msg": M}                on failure (exit status 1, or 2 if
                                           the time budget ran out)
"""

import json
import os
import select
import signal
import sys
import time

try:
    import zmq
    from zmq.utils.monitor import recv_monitor_message
except ImportError as e:  # the Go side reports this line
    sys.stdout.write(json.dumps({"ev": "error", "msg": "import zmq failed: %s" % e}) + "\n")
    sys.stdout.flush()
    sys.exit(3)


class Timeout(Exception):
    pass


def emit(**obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def unhex(frames):
    return [bytes.fromhex(f) for f in frames]


def tohex(frames):
    return [f.hex() for f in frames]


class Stdin:
    """Line reader over fd 0 that never blocks past a deadline."""

    def __init__(self):
        self.buf = b""
        self.eof = False

    def line(self, deadline):
        """Wait for a line or EOF until deadline (None: just poll).
        Returns True if one came."""
        while True:
            if b"\n" in self.buf:
                _, self.buf = self.buf.split(b"\n", 1)
                return True
            if self.eof:
                return True
            wait = 0 if deadline is None else max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([0], [], [], wait)
            if not r:
                if deadline is None or time.monotonic() >= deadline:
                    return False
                continue
            chunk = os.read(0, 4096)
            if not chunk:
                self.eof = True
            self.buf += chunk


class Peer:
    def __init__(self, spec):
        self.spec = spec
        self.deadline = time.monotonic() + spec.get("timeout_ms", 15000) / 1000.0
        self.ctx = zmq.Context()
        self.auth = None
        if spec.get("zap_plain") is not None:
            from zmq.auth.thread import ThreadAuthenticator

            self.auth = ThreadAuthenticator(self.ctx)
            self.auth.start()
            self.auth.configure_plain(domain="*", passwords=spec["zap_plain"])
        self.typ = spec["type"].upper()
        self.sock = self.ctx.socket(getattr(zmq, self.typ))
        self.stdin = Stdin()
        self.mon = None

    def remaining_ms(self):
        ms = int((self.deadline - time.monotonic()) * 1000)
        if ms <= 0:
            raise Timeout("time budget of %d ms ran out" % self.spec.get("timeout_ms", 15000))
        return ms

    def setup(self):
        s = self.sock
        s.setsockopt(zmq.LINGER, self.spec.get("linger_ms", 2000))
        for name, value in self.spec.get("opts", {}).items():
            if isinstance(value, str):
                value = bytes.fromhex(value)
            s.setsockopt(getattr(zmq, name), value)
        if self.spec.get("monitor"):
            self.mon = s.get_monitor_socket()
        if self.spec.get("bind"):
            s.bind(self.spec["bind"])
            emit(ev="bound", endpoint=s.getsockopt(zmq.LAST_ENDPOINT).decode())
        conn = self.spec.get("connect") or []
        if isinstance(conn, str):
            conn = [conn]
        for ep in conn:
            s.connect(ep)

    def send(self, frames):
        self.sock.setsockopt(zmq.SNDTIMEO, self.remaining_ms())
        try:
            self.sock.send_multipart(frames)
        except zmq.Again:
            raise Timeout("send timed out")

    def recv(self):
        self.sock.setsockopt(zmq.RCVTIMEO, self.remaining_ms())
        try:
            m = self.sock.recv_multipart()
        except zmq.Again:
            raise Timeout("recv timed out")
        emit(ev="recv", frames=tohex(m))
        return m

    def wait_stdin(self):
        if not self.stdin.line(self.deadline):
            raise Timeout("no line on stdin")
        emit(ev="stdin")

    def step(self, st):
        op = st["op"]
        if op == "send":
            msgs = st["msgs"]
            for m in msgs:
                self.send(unhex(m))
            emit(ev="sent", count=len(msgs))
        elif op == "recv":
            for _ in range(st.get("count", 1)):
                self.recv()
        elif op == "recv_until":
            last = bytes.fromhex(st["last"])
            for _ in range(st.get("max", 1000)):
                if self.recv()[0] == last:
                    return
            raise RuntimeError("no message %r among %d" % (last, st.get("max", 1000)))
        elif op == "echo":
            prefix = unhex(st.get("prefix", []))
            for _ in range(st.get("count", 1)):
                m = self.recv()
                if self.typ == "ROUTER":
                    self.send(m[:1] + prefix + m[1:])
                else:
                    self.send(prefix + m)
        elif op == "send_until_stdin":
            msgs = [unhex(m) for m in st["msgs"]]
            interval = st.get("interval_ms", 10) / 1000.0
            for _ in range(st.get("max", 500)):
                for m in msgs:
                    self.send(m)
                if self.stdin.line(min(self.deadline, time.monotonic() + interval)):
                    emit(ev="stdin")
                    return
                self.remaining_ms()
            raise RuntimeError("no line on stdin after %d rounds" % st.get("max", 500))
        elif op == "recv_props":
            # One message, and the named properties of its first frame
            # (zmq_msg_gets): the peer's handshake metadata.
            self.sock.setsockopt(zmq.RCVTIMEO, self.remaining_ms())
            try:
                m = self.sock.recv_multipart(copy=False)
            except zmq.Again:
                raise Timeout("recv timed out")
            props = {}
            for name in st["names"]:
                try:
                    props[name] = m[0].get(name)
                except zmq.ZMQError:
                    props[name] = None
            emit(ev="recv", frames=tohex([f.bytes for f in m]), props=props)
        elif op == "wait_stdin":
            self.wait_stdin()
        elif op == "sleep":
            time.sleep(min(st["ms"], self.remaining_ms()) / 1000.0)
        elif op == "subscribe":
            self.sock.setsockopt(zmq.SUBSCRIBE, bytes.fromhex(st["topic"]))
        elif op == "unsubscribe":
            self.sock.setsockopt(zmq.UNSUBSCRIBE, bytes.fromhex(st["topic"]))
        else:
            raise ValueError("unknown op %r" % op)

    def monitor_report(self):
        names = {}
        for n in dir(zmq):
            if n.startswith("EVENT_") and n not in ("EVENT_ALL", "EVENT_ALL_V1", "EVENT_ALL_V2"):
                v = getattr(zmq, n)
                if isinstance(v, int):
                    names.setdefault(int(v), n[len("EVENT_"):])
        events = []
        while True:
            try:
                ev = recv_monitor_message(self.mon, zmq.NOBLOCK)
            except zmq.Again:
                break
            events.append(names.get(int(ev["event"]), str(ev["event"])))
        emit(ev="monitor", events=events)

    def run(self):
        self.setup()
        for st in self.spec.get("steps", []):
            self.step(st)
        if self.mon is not None:
            # Let the monitor's inproc pipe catch up with the I/O thread.
            time.sleep(0.05)
            self.monitor_report()

    def close(self, failed):
        if failed:
            self.sock.setsockopt(zmq.LINGER, 0)
        if self.mon is not None:
            self.sock.disable_monitor()
            self.mon.close(0)
        self.sock.close()
        if self.auth is not None:
            self.auth.stop()
        self.ctx.term()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: libzmq_peer.py SPEC-JSON\n")
        return 1
    spec = json.loads(sys.argv[1])
    budget = spec.get("timeout_ms", 15000) / 1000.0
    # A hard stop in case libzmq itself blocks (close with linger, term):
    # the budget plus the linger plus a margin.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(4))
    signal.alarm(int(budget + spec.get("linger_ms", 2000) / 1000.0) + 3)
    peer = Peer(spec)
    status = 0
    try:
        peer.run()
    except Timeout as e:
        emit(ev="error", msg=str(e))
        status = 2
    except Exception as e:  # report any failure as a line, never hang
        emit(ev="error", msg="%s: %s" % (type(e).__name__, e))
        status = 1
    finally:
        peer.close(status != 0)
    if status == 0:
        emit(ev="done")
    return status


if __name__ == "__main__":
    sys.exit(main())
