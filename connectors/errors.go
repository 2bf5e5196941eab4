package connectors

import (
	"errors"
	"fmt"
	"time"
)

// Sentinels for the conditions the engine reacts to. Match them with
// errors.Is; connectors wrap them in *Error with detail.
var (
	// ErrNotFound: the object does not exist in the target. A delete that
	// gets it has succeeded.
	ErrNotFound = errors.New("object not found")
	// ErrExists: a create collided with an existing object. The engine
	// re-matches and adopts.
	ErrExists = errors.New("object already exists")
	// ErrRetryable: the op may succeed later (429, 5xx, timeouts, resets).
	ErrRetryable = errors.New("retryable")
	// ErrTerminal: retrying the same op cannot succeed (schema violation,
	// most 4xx). It needs a change of data or config.
	ErrTerminal = errors.New("terminal")
)

// Error is a target failure with its classification and the server's words.
type Error struct {
	// Kind is one of the sentinels above.
	Kind error
	// Detail is the target's own explanation, safe to log (no secrets).
	Detail string
	// Cause is the underlying error, if any.
	Cause error
	// RetryAfter is how long the target asked to be left alone (an HTTP
	// Retry-After), for retryable errors; zero if it did not say.
	RetryAfter time.Duration
	// Status is the protocol status (an HTTP code), when there was one.
	Status int
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrTerminal) and friends work on *Error.
func (e *Error) Is(target error) bool { return e.Kind == target }

func (e *Error) Unwrap() error { return e.Cause }

// Terminal wraps err as a terminal failure.
func Terminal(err error, format string, args ...any) error {
	return &Error{Kind: ErrTerminal, Detail: fmt.Sprintf(format, args...), Cause: err}
}

// Retryable wraps err as a failure worth retrying.
func Retryable(err error, format string, args ...any) error {
	return &Error{Kind: ErrRetryable, Detail: fmt.Sprintf(format, args...), Cause: err}
}

// RetryAfterOf returns the delay a target asked for, or zero.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsRetryable reports whether err is worth retrying. Anything not classified
// is treated as terminal: retrying an unknown failure hides bugs.
func IsRetryable(err error) bool { return errors.Is(err, ErrRetryable) }
