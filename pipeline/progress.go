package pipeline

// Progress hears how far a plan or apply has got, so a front end can draw a
// progress bar. The engine calls Begin and End from one goroutine, and Add
// from many: an implementation must make Add safe for concurrent use.
type Progress interface {
	// Begin starts a stage such as "read hr" or "apply crm". total is the
	// work it will do, an estimate for a read (the real count may pass
	// it), or -1 when that is not known in advance (a source that cannot
	// guess how many records it holds).
	Begin(stage string, total int)
	// Add reports n more units done in the current stage.
	Add(n int)
	// End finishes the current stage.
	End()
}

// noProgress is the Progress used when the caller gave none.
type noProgress struct{}

func (noProgress) Begin(string, int) {}
func (noProgress) Add(int)           {}
func (noProgress) End()              {}
