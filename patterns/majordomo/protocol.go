package majordomo

import "strings"

// The MDP/0.1 protocol constants (7/MDP), for code that speaks it on raw
// sockets.
const (
	// ClientHeader is frame 1 of every client request and reply.
	ClientHeader = "MDPC01"
	// WorkerHeader is frame 1 of every worker command.
	WorkerHeader = "MDPW01"
)

// The worker commands, frame 2 of a worker message.
const (
	CmdReady      byte = 0x01
	CmdRequest    byte = 0x02
	CmdReply      byte = 0x03
	CmdHeartbeat  byte = 0x04
	CmdDisconnect byte = 0x05
)

// The 8/MMI namespace and replies.
const (
	MMIPrefix         = "mmi."
	MMIService        = "mmi.service"
	MMIFound          = "200"
	MMINotFound       = "404"
	MMINotImplemented = "501"
)

var (
	clientHeader = []byte(ClientHeader)
	workerHeader = []byte(WorkerHeader)
	cmdFrames    = [6][]byte{nil, {CmdReady}, {CmdRequest}, {CmdReply}, {CmdHeartbeat}, {CmdDisconnect}}
)

func isMMI(service string) bool { return strings.HasPrefix(service, MMIPrefix) }

// workerCmd returns the command of a worker message laid out as
// "" | "MDPW01" | cmd | …, or 0 if it is not one.
func workerCmd(f [][]byte) byte {
	if len(f) < 3 || len(f[0]) != 0 || string(f[1]) != WorkerHeader || len(f[2]) != 1 {
		return 0
	}
	return f[2][0]
}
