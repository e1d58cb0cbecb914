package sockets

// WithXPubVerboser makes an XPUB deliver every cancel as well as every
// subscribe (ZMQ_XPUB_VERBOSER): on, it implies WithXPubVerbose(true), and a
// cancel reaches Recv each time a subscriber drops a topic it held, not only
// when the last subscriber of that topic does; a subscriber that leaves
// yields a cancel for each topic it held. Off (the default, as in libzmq)
// it keeps WithXPubVerbose as it was and delivers only last cancels.
//
// A proxy between XSUB and XPUB uses it to mirror each downstream
// subscriber's subscriptions upstream one for one. Unlike libzmq, a cancel
// for a topic the subscriber never held (or that the subscription filter or
// limits refused) is still dropped: a peer cannot cancel upstream what
// others subscribed to.
func WithXPubVerboser(on bool) Option {
	return func(c *config) error {
		if err := onlyFor(c, "WithXPubVerboser", XPub); err != nil {
			return err
		}
		c.xpubVerboser = on
		if on {
			c.xpubVerbose = true
		}
		return nil
	}
}
