package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmqkit/zmqkit/sockets"
)

// Code classifies an error that travels from server to client.
type Code uint16

// The codes the package uses. Applications may use their own from
// CodeUser up, through Error.
const (
	CodeUnknown          Code = 1 // a handler's error without a code
	CodeCanceled         Code = 2 // the handler's context was canceled
	CodeDeadlineExceeded Code = 3 // the call's deadline passed on the server
	CodeNotFound         Code = 4 // no handler for the method
	CodeBadRequest       Code = 5 // the request did not parse or decode
	CodeInternal         Code = 6 // the handler panicked, or its reply did not encode
	CodeUnavailable      Code = 7 // the server is shutting down
	CodeUser             Code = 100
)

var codeNames = map[Code]string{
	CodeUnknown: "unknown", CodeCanceled: "canceled", CodeDeadlineExceeded: "deadline exceeded",
	CodeNotFound: "not found", CodeBadRequest: "bad request", CodeInternal: "internal",
	CodeUnavailable: "unavailable",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", uint16(c))
}

// Errors; test them with errors.Is.
var (
	// ErrRemote is matched by every *RemoteError: the server answered the
	// call with an error. It is sockets.ErrRemote, which a typed REQ's
	// remote errors match too.
	ErrRemote = sockets.ErrRemote
	// ErrNoMethod is matched by a *RemoteError with CodeNotFound.
	ErrNoMethod = errors.New("rpc: no such method")
	// ErrBadRequest is matched by a *RemoteError with CodeBadRequest.
	ErrBadRequest = errors.New("rpc: bad request")
	// ErrInternal is matched by a *RemoteError with CodeInternal.
	ErrInternal = errors.New("rpc: internal server error")
	// ErrUnavailable is matched by a *RemoteError with CodeUnavailable: the
	// server stopped before it answered.
	ErrUnavailable = errors.New("rpc: server unavailable")
	// ErrConnectionLost is returned for a call in flight when the client's
	// connection to a server drops. The call may or may not have run.
	ErrConnectionLost = errors.New("rpc: connection lost while the call was in flight")
	// ErrClosed is returned by calls on a closed Client, and by Run on a
	// closed Server.
	ErrClosed = sockets.ErrClosed
	// ErrRunning is returned by Run when the server is already running.
	ErrRunning = errors.New("rpc: server already running")
	// ErrBadOption is matched by the error a constructor returns for an
	// option out of range. It is sockets.ErrBadOption.
	ErrBadOption = sockets.ErrBadOption
)

// Error is an error with a code, for handlers to return; the caller gets
// a *RemoteError with the same code and message. Two *Error values match
// (errors.Is) when their codes are equal, and a *RemoteError matches an
// *Error with its code, so one declared value serves both sides:
//
//	var ErrOutOfStock = rpc.NewError(rpc.CodeUser+1, "out of stock")
//	// server: return Reply{}, ErrOutOfStock
//	// client: if errors.Is(err, ErrOutOfStock) { … }
type Error struct {
	Code    Code
	Message string
}

// NewError returns an *Error.
func NewError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return fmt.Sprintf("rpc: %s: %s", e.Code, e.Message) }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// RemoteError is a server's error answer to a call: the rpc form of
// sockets.RemoteError, which it unwraps to, so that errors.As finds a
// *sockets.RemoteError in every error a peer answered with.
type RemoteError struct {
	Method  string
	Code    Code
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("rpc: %s: remote error (%s): %s", e.Method, e.Code, e.Message)
}

// Unwrap returns the answer as a *sockets.RemoteError.
func (e *RemoteError) Unwrap() error { return &sockets.RemoteError{Msg: e.Message} }

// Is makes errors.Is match ErrRemote always; ErrNoMethod, ErrBadRequest,
// ErrInternal, ErrUnavailable, context.DeadlineExceeded and
// context.Canceled by code; and an *Error with the same code.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrRemote:
		return true
	case ErrNoMethod:
		return e.Code == CodeNotFound
	case ErrBadRequest:
		return e.Code == CodeBadRequest
	case ErrInternal:
		return e.Code == CodeInternal
	case ErrUnavailable:
		return e.Code == CodeUnavailable
	case context.DeadlineExceeded:
		return e.Code == CodeDeadlineExceeded
	case context.Canceled:
		return e.Code == CodeCanceled
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// classify turns a handler's error into what goes on the wire.
func classify(err error) (Code, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Message
	}
	var re *RemoteError // a handler passing on another server's answer
	if errors.As(err, &re) {
		return re.Code, re.Message
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded, err.Error()
	case errors.Is(err, context.Canceled):
		return CodeCanceled, err.Error()
	}
	return CodeUnknown, err.Error()
}
