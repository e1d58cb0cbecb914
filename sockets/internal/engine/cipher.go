package engine

// FrameCipher encrypts and decrypts the frames of one established
// connection whose security mechanism encrypts (CURVE, RFC 26). After the
// handshake every frame, data or command, travels as a MESSAGE:
// "\x07MESSAGE", an 8-byte nonce, and a box holding one flags byte and the
// frame. Seal and Open speak of the flags in the frame header's terms
// (flagMore, flagCommand); inside the box they are libzmq's msg_t flags
// (0x01 more, 0x02 command). libzmq sends a MESSAGE as a single data frame
// and takes it as a data or a command frame; so do we.
type FrameCipher interface {
	// Seal appends to dst the body of the MESSAGE command that carries
	// frame, "\x07MESSAGE" included, and returns it. It uses the next
	// nonce; frames must be sealed in the order they are sent.
	Seal(dst []byte, flags byte, frame []byte) []byte
	// SealedLen is the length of that body for a frame of n bytes.
	SealedLen(n int) int
	// Open checks and decrypts the body of a MESSAGE command ("\x07MESSAGE"
	// included) and returns the flags and the frame. It fails on a body
	// that does not authenticate, on a nonce that does not increase, and on
	// anything that is not a MESSAGE.
	Open(body []byte) (flags byte, frame []byte, err error)
}
