package connectors

import "context"

// Target receives ops. It is deliberately one method: everything else a
// target can do is an optional interface found by type assertion.
type Target interface {
	// Apply performs one op and returns the object's id, which is newly
	// assigned for Create. Errors should be *Error values so the engine can
	// tell retryable from terminal failures.
	Apply(ctx context.Context, op Op) (Result, error)
	// Close releases connections. The target is not used afterwards.
	Close() error
}

// Result is what a target reports for an applied op.
type Result struct {
	// ID is the target's id of the object the op touched.
	ID string
	// Version is the object's version after the op (an HTTP ETag), for
	// targets that have them; idsync keeps it and sends it back on the next
	// write so a concurrent change is detected, not overwritten blindly.
	Version string
}

// Object is a target object as read back from the target.
type Object struct {
	ID       string
	Disabled bool
	Attrs    Attrs
}

// Matcher is implemented by targets that can look up pre-existing objects
// by an attribute, so idsync adopts them instead of creating duplicates.
type Matcher interface {
	// Match returns every object whose attr equals value. More than one
	// result is ambiguous and the engine never guesses.
	Match(ctx context.Context, attr string, value Value) ([]Object, error)
}

// BatchMatcher is implemented by targets that can look up many values in
// one round trip. Planning a first run matches every identity, so this is
// the difference between one query per person and one per few hundred.
type BatchMatcher interface {
	// MatchMany returns, for each value, the objects whose attr equals it,
	// under the same equality Match uses.
	MatchMany(ctx context.Context, attr string, values []Value) ([][]Object, error)
}

// BulkApplier is implemented by targets that can take many user ops in
// one request (SCIM Bulk).
type BulkApplier interface {
	// BulkSize is how many ops one ApplyBulk may carry; 0 turns bulk off.
	BulkSize() int
	// ApplyBulk applies independent ops together. Results and errors align
	// with ops: each op succeeds or fails on its own.
	ApplyBulk(ctx context.Context, ops []Op) ([]Result, []error)
}

// KeyFinder is implemented by targets that record the source key on the
// objects they create (SQLite in a column, SCIM as externalId), so a create
// whose answer was lost in a crash can be found again instead of repeated.
type KeyFinder interface {
	FindKey(ctx context.Context, key string) ([]Object, error)
}

// Reader is implemented by targets that can read one object's live state.
type Reader interface {
	// Get returns the object with the given id, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Object, error)
}
