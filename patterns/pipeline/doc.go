// Package pipeline is a worker pool over PUSH/PULL that does not lose
// tasks: a Ventilator hands out tasks, Workers (in this process or any
// other) pull them and push results back, and the Ventilator counts each
// task once — Python's Queue with task_done and join, across processes.
//
//	ventilator (PUSH) ──tasks──▶ workers (PULL … PUSH) ──results──▶ ventilator (PULL, the sink)
//
// The Ventilator is also the sink. A task is re-issued when its result has
// not come back within the task timeout (the worker died, its connection
// dropped, the task sat in a dead worker's queue); re-issuing needs to know
// what is done, and keeping the sink in the same object makes that a map
// lookup instead of a third channel that could itself lose messages. Wait is
// then simply "nothing outstanding", and results are collected where the
// tasks were submitted. Workers are the separate processes: they dial the
// two endpoints the Ventilator listens on and need nothing else.
//
// The timeout counts from the moment a task is sent, and PUSH deals tasks
// round-robin whatever a worker's load, so the time a task waits in a
// worker's queue counts too: Submit keeps at most WithPrefetch tasks
// outstanding per connected worker to keep that wait short.
//
// Delivery is at least once, counting is exactly once: a task may run twice
// (a slow worker's first attempt and the re-issue both finish), but only the
// first result for a task id is counted and returned; later ones are dropped
// and counted in Stats.Duplicates. Handlers with side effects should be
// idempotent.
//
// # Wire format
//
// A task is two frames: a 21-byte header and the task encoded with the task
// codec. The header is a version byte (1), the ventilator's random epoch
// (8 bytes, big-endian), the task id (8) and the attempt number (4). A
// result is four frames: the task's header echoed unchanged, a status byte
// (0 value, 1 the handler failed, 2 the task could not be decoded), the
// result encoded with the result codec (or the error text), and the worker's
// name. A worker in another language needs only to echo the first frame.
// The epoch keeps results meant for an earlier ventilator on the same
// endpoint from settling this one's tasks.
//
// With sockets.WithHeaders among the ventilator's socket options, a task
// submitted with a context that carries headers (sockets.ContextWithHeaders:
// a trace context) is three frames: the header frame (docs/headers.md)
// goes between the 21-byte header and the task, and is sent again with
// every re-issue. A worker made with it hands its handler a context that
// carries them; one without it answers such a task as not decodable
// (status 2, ErrUnexpectedHeaders' text).
//
// Options are typed by side: NewVentilator takes VentilatorOptions,
// NewWorker WorkerOptions, and an Option (an HWM, socket options) is
// accepted by both. An option for the other side does not compile.
package pipeline
