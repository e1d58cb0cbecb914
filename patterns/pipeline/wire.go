package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zmqkit/zmqkit/codec"
	"github.com/zmqkit/zmqkit/sockets"
)

// Errors; test them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Ventilator or Worker,
	// including those blocked when Close ran. It is sockets.ErrClosed.
	ErrClosed = sockets.ErrClosed
	// ErrGaveUp is the Err of a Result whose task was sent
	// WithMaxAttempts times without a result coming back in time.
	ErrGaveUp = errors.New("pipeline: no result after the last attempt")
	// ErrTaskFailed is matched by the Err of a Result whose worker reported
	// a failure: the handler returned an error or panicked, or the task did
	// not decode (that one also matches codec.ErrDecode).
	ErrTaskFailed = errors.New("pipeline: task failed")
)

// TaskError is a failure reported by a worker.
type TaskError struct {
	Worker  string // the worker's name
	Msg     string // the handler's error text
	BadTask bool   // the worker could not decode the task
}

func (e *TaskError) Error() string {
	what := "task failed"
	if e.BadTask {
		what = "task not decodable"
	}
	return fmt.Sprintf("pipeline: %s on worker %q: %s", what, e.Worker, e.Msg)
}

// Is makes errors.Is(err, ErrTaskFailed) true, and errors.Is(err,
// codec.ErrDecode) for a task the worker could not decode.
func (e *TaskError) Is(target error) bool {
	return target == ErrTaskFailed || (e.BadTask && target == codec.ErrDecode)
}

const (
	wireVersion = 1
	headerLen   = 21

	statusOK      = 0
	statusFailed  = 1
	statusBadTask = 2
)

type header struct {
	epoch   uint64
	id      uint64
	attempt uint32
}

func (h header) encode() []byte {
	b := make([]byte, headerLen)
	b[0] = wireVersion
	binary.BigEndian.PutUint64(b[1:], h.epoch)
	binary.BigEndian.PutUint64(b[9:], h.id)
	binary.BigEndian.PutUint32(b[17:], h.attempt)
	return b
}

func parseHeader(b []byte) (header, bool) {
	if len(b) != headerLen || b[0] != wireVersion {
		return header{}, false
	}
	return header{
		epoch:   binary.BigEndian.Uint64(b[1:]),
		id:      binary.BigEndian.Uint64(b[9:]),
		attempt: binary.BigEndian.Uint32(b[17:]),
	}, true
}
