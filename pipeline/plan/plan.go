package plan

import (
	"time"

	"github.com/idsync/idsync/connectors"
)

// Version is the saved-plan format version. A change to the JSON shape of
// Plan must bump it; apply refuses plans of another version.
const Version = 1

// Plan is everything one run would do.
type Plan struct {
	Version int       `json:"version"`
	Now     time.Time `json:"now"`
	// Sources says how each source was read.
	Sources []Source  `json:"sources"`
	Targets []*Target `json:"targets"`
	// Rejects are the records quarantined while planning.
	Rejects []Reject `json:"rejects,omitempty"`
}

// Source is how one source was read, and which targets it fed.
type Source struct {
	Name string `json:"name"`
	// Full is true for a full snapshot, false for a delta.
	Full bool `json:"full"`
	// Records is how many records the read delivered to the rules (ones
	// the source could not parse are counted as rejects instead).
	Records int      `json:"records"`
	Targets []string `json:"targets"`
}

// Target is the plan for one target.
type Target struct {
	Name string `json:"name"`
	// Serial is the target's state serial when planned; apply refuses a
	// saved plan if it has moved.
	Serial uint64 `json:"serial"`
	// Managed is how many objects idsync managed in the target.
	Managed int  `json:"managed"`
	Ops     []Op `json:"ops"`
	// Sensitive names attributes whose values must never be printed.
	Sensitive []string `json:"sensitive,omitempty"`
	// Attrs names the target's attributes in policy order: the names of a
	// compact create's values (see Compact). Saved plans hold no compact
	// ops, so it is not saved.
	Attrs []string `json:"-"`
	// Refresh lists keys whose stored fingerprint changed with no op, so
	// apply records it and the next run skips them.
	Refresh []Refresh `json:"refresh,omitempty"`
	// Ahead counts creates that carry their record's fingerprint ahead
	// of its memberships (see snapshots.Seal): apply opens the target's
	// seal while they are unsettled.
	Ahead int `json:"ahead,omitempty"`
	// Guard is set when a safety guard holds back destructive ops.
	Guard *Guard `json:"guard,omitempty"`
	// Escrowed are ops held back because an earlier try failed and their
	// retry time has not come (or an operator dropped them).
	Escrowed []Escrowed `json:"escrowed,omitempty"`
	// Retrying lists keys whose escrowed ops are in this plan again, so
	// apply clears their escrow when they succeed.
	Retrying []string `json:"retrying,omitempty"`
	// Skipped says why the target was not planned at all (quarantined, or
	// unreachable); empty when it was.
	Skipped string `json:"skipped,omitempty"`
	// Deferred lists references left out because the identity they point
	// to has no object and none is planned ("E7.manager → E9"); later runs
	// try again.
	Deferred []string `json:"deferred,omitempty"`
	// Waiting counts records left for the next run because the target's
	// opsPerRun was reached; they were not evaluated, so some may need
	// nothing. Apply plans again while any wait.
	Waiting int `json:"waiting,omitempty"`
}

// Escrowed is one held-back op.
type Escrowed struct {
	Key       string    `json:"key"`
	Action    string    `json:"action"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	NextRetry time.Time `json:"nextRetry"`
	Dropped   bool      `json:"dropped,omitempty"`
}

// Refresh is a fingerprint update with no op.
type Refresh struct {
	Key  string `json:"key"`
	Hash uint64 `json:"hash"`
}

// Guard says why destructive ops are held back.
type Guard struct {
	// Reason is "max-deletes", "max-delete-percent" or "empty-source".
	Reason string `json:"reason"`
	// Count is how many disables and deletes are held.
	Count int `json:"count"`
	// Limit is the limit that was crossed, in the reason's unit.
	Limit float64 `json:"limit"`
}

// Reject is one quarantined record.
type Reject struct {
	Source string `json:"source"`
	// Target and Rule are set when a rule failed, empty for input errors.
	Target string `json:"target,omitempty"`
	Rule   string `json:"rule,omitempty"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Field  string `json:"field,omitempty"`
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason"`
}

// Destructive counts the disables and deletes of users: what the deletion
// guard limits.
func (t *Target) Destructive() int {
	n := 0
	for _, op := range t.Ops {
		if op.Action.Destructive() && op.Object == connectors.User {
			n++
		}
	}
	return n
}
