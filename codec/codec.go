// Package codec turns Go values into message frames and back, for the typed
// sockets in package sockets.
//
// A Codec is a value with a Name, in the manner of connect-go's codecs. Each
// value travels as one frame; envelopes, topics and routing ids stay
// separate frames handled by the sockets, so a codec never sees them.
//
// Writing a codec takes a few lines. This one sends a uint64 as 8 bytes:
//
//	type u64 struct{}
//
//	func (u64) Name() string { return "u64" }
//	func (u64) Marshal(v uint64) ([]byte, error) {
//		return binary.BigEndian.AppendUint64(nil, v), nil
//	}
//	func (u64) Unmarshal(b []byte, v *uint64) error {
//		if len(b) != 8 {
//			return fmt.Errorf("want 8 bytes, got %d", len(b))
//		}
//		*v = binary.BigEndian.Uint64(b)
//		return nil
//	}
//
// Decode (and the typed sockets, which call it) wrap any failure of
// Unmarshal, panics included, in a *DecodeError that matches ErrDecode.
package codec

import (
	"errors"
	"fmt"
	"reflect"
)

// Codec encodes values of type T to one frame and decodes them back.
type Codec[T any] interface {
	// Name identifies the codec in errors ("json", "msgpack", …).
	Name() string
	// Marshal encodes v. The result is handed to a socket: it must not be
	// reused by the codec.
	Marshal(v T) ([]byte, error)
	// Unmarshal decodes data into v. data may be retained only by
	// codecs that document it (Bytes, String copy nothing).
	Unmarshal(data []byte, v *T) error
}

// ErrDecode is matched (errors.Is) by every decoding failure.
var ErrDecode = errors.New("codec: cannot decode")

// ErrEncode is matched (errors.Is) by every encoding failure.
var ErrEncode = errors.New("codec: cannot encode")

// DecodeError says which codec failed on what.
type DecodeError struct {
	Codec string // the codec's Name
	Type  string // the Go type decoded into
	Size  int    // payload bytes
	Err   error  // the codec's own error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("codec %s: cannot decode %d bytes into %s: %v", e.Codec, e.Size, e.Type, e.Err)
}

// Is makes errors.Is(err, ErrDecode) true.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Unwrap returns the codec's own error.
func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError says which codec failed on what.
type EncodeError struct {
	Codec string
	Type  string
	Err   error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("codec %s: cannot encode %s: %v", e.Codec, e.Type, e.Err)
}

// Is makes errors.Is(err, ErrEncode) true.
func (e *EncodeError) Is(target error) bool { return target == ErrEncode }

// Unwrap returns the codec's own error.
func (e *EncodeError) Unwrap() error { return e.Err }

// TypeName is the Go type name used in errors.
func TypeName[T any]() string {
	return reflect.TypeFor[T]().String()
}

// Decode runs c.Unmarshal and turns any failure, a panic included, into a
// *DecodeError.
func Decode[T any](c Codec[T], data []byte) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, &DecodeError{Codec: c.Name(), Type: TypeName[T](), Size: len(data), Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if uerr := c.Unmarshal(data, &v); uerr != nil {
		var zero T
		return zero, &DecodeError{Codec: c.Name(), Type: TypeName[T](), Size: len(data), Err: uerr}
	}
	return v, nil
}

// Encode runs c.Marshal and turns any failure, a panic included, into an
// *EncodeError.
func Encode[T any](c Codec[T], v T) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, &EncodeError{Codec: c.Name(), Type: TypeName[T](), Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	b, err = c.Marshal(v)
	if err != nil {
		return nil, &EncodeError{Codec: c.Name(), Type: TypeName[T](), Err: err}
	}
	return b, nil
}
