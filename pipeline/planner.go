package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/snapshots"
)

// PlanOptions tune one Plan call.
type PlanOptions struct {
	// Full reads every source as a full snapshot, whatever its schedule.
	Full bool
	// Source, when set, plans only that source's targets.
	Source string
	// KeepGCPercent leaves a first sync's GC percent (Options.PlanGCPercent)
	// set when Plan returns, for a caller that only prints the plan and
	// exits. Setting back a lower percent starts a collection at once,
	// since the heap is then past its new goal, and that collection marks
	// the whole plan: 0.3 s of a 1M first plan, for memory nobody reuses.
	KeepGCPercent bool
	// Apply says the plan is made to be applied: a first sync then advises
	// huge pages for the apply's heap too, before it reads (hugeheap.go).
	Apply bool
}

// targetRun is one target's planning state during a source read.
type targetRun struct {
	t *target
	// version is what the record hashes are combined with: the policy's
	// version, salted with the target's seal (see snapshots.Seal).
	version uint64
	index   *stateIndex
	groups  map[string]snapshots.GroupEntry
	out     *plan.Target
	matcher connectors.Matcher
	// failed holds keys whose records or rules failed: no ops, and never
	// "absent".
	failed map[string]bool
	// claimed maps target ids adopted in this run to the key adopting them,
	// so two identities never adopt the same object.
	claimed map[string]string
	// toMatch indexes the creates in out.Ops still to be matched.
	toMatch []int
	// picks are the unique values still to choose, in finish.
	picks []uniquePick
	// escrow holds the target's failed ops waiting for a retry, by key.
	escrow map[string]snapshots.Escrow
	// Bounding the plan to opsPerRun: see waves.go.
	counted, guessed int // ops toward opsPerRun, and speculative ones
	closed           bool
	full             atomic.Bool
}

// sourceRun is one source read.
type sourceRun struct {
	scratch scratchPool // the batches' working memory, safe to share
	// batches is the allocator the source builds its batches with; a
	// batch whose results keep nothing of it is recycled (readParallel).
	batches batch.Recycler
	// mu guards everything below: the source reports rejects from its own
	// goroutine while results are applied.
	mu   sync.Mutex
	s    *source
	full bool
	// expected is how many records the read should bring (expectedRows),
	// or -1: it sizes the seen set and shows progress.
	expected int
	runs     []*targetRun
	// ready is closed once the state index is loaded (or failed to load):
	// the source reads ahead meanwhile, but its rejects need seen.
	ready chan struct{}
	// keys numbers every key in state on a full read, shared by the
	// targets' indexes (nil on a delta).
	keys *keyTable
	// releaseIndex, when set, unmaps the merged index keys and the
	// targets' indexes are read from (indexblob.go). planSource calls it
	// once the plan is made: nothing after reads the index.
	releaseIndex func()
	seen         *seenSet           // key -> first line
	dups         map[string][]int64 // key -> every line it appears on
	unkeyed      int                // rejected records whose key is unknown
	rows         int                // records delivered in batches
	rejects      []plan.Reject
	gc           *sparseGC // hears how many ops the read has produced
	// presizeBudget, when above zero, asks for the op lists to be sized
	// once from the first batch, in at most that many bytes (presizeOps);
	// presized says it is done.
	presizeBudget int64
	presized      bool
}

// Plan reads every source once, evaluates each target's rules and diffs
// against stored state. It changes nothing, but it may query targets
// (read-only) to find objects to adopt.
func (e *Engine) Plan(ctx context.Context, opts PlanOptions) (*plan.Plan, error) {
	first, err := e.firstSync()
	if err != nil {
		return nil, err
	}
	gc := &sparseGC{}
	var presizeBudget int64
	if first {
		var restore func()
		if e.opts.PlanMemoryLimit > 0 {
			// A quarter of the limit: a wild estimate must not make the
			// op lists alone reach it, where the collector would run
			// over and over.
			restore, presizeBudget = collectorOff(e.opts.PlanMemoryLimit), e.opts.PlanMemoryLimit/4
		} else {
			restore = planGC(e.opts.PlanGCPercent)
		}
		if !opts.KeepGCPercent {
			defer restore()
		}
	} else {
		gc = startSparseGC(e.opts.SparsePlanGCPercent)
		defer gc.end()
	}
	p := &plan.Plan{Version: plan.Version, Now: e.opts.Now}
	var sources []*source
	var fulls []bool
	keepDetails := false
	for _, s := range e.c.sources {
		if len(s.targets) == 0 || (opts.Source != "" && opts.Source != s.cfg.Name) {
			continue
		}
		full, err := e.readFull(s, opts.Full)
		if err != nil {
			return nil, err
		}
		sources, fulls = append(sources, s), append(fulls, full)
		keepDetails = keepDetails || full && !first
	}
	details, err := e.startKeepDetails(keepDetails)
	if err != nil {
		return nil, err
	}
	// A plan that fails early must not leave it reading a store that its
	// caller is about to close. Its error is each source's to report:
	// every read waits for it before it reads details.
	defer func() { _ = details.wait() }()
	for i, s := range sources {
		full := fulls[i]
		sr, err := e.planSource(ctx, s, full, opts.Apply, gc, presizeBudget, details)
		if err != nil {
			return nil, err
		}
		sp := plan.Source{Name: s.cfg.Name, Full: full, Records: sr.rows}
		p.Rejects = append(p.Rejects, sr.rejects...)
		for _, tr := range sr.runs {
			p.Targets = append(p.Targets, tr.out)
			sp.Targets = append(sp.Targets, tr.out.Name)
		}
		p.Sources = append(p.Sources, sp)
		e.metric(func(m *Metrics) {
			m.sourceRecords.WithLabelValues(s.cfg.Name).Add(float64(sr.seen.len()))
			for _, r := range sr.rejects {
				if r.Rule != "" {
					m.ruleErrors.WithLabelValues(r.Target).Inc()
				} else {
					m.sourceRejected.WithLabelValues(s.cfg.Name, rejectReason(r.Reason)).Inc()
				}
			}
		})
	}
	e.metric(func(m *Metrics) {
		for _, t := range p.Targets {
			for _, op := range t.Ops {
				m.planOps.WithLabelValues(t.Name, op.Action.String()).Inc()
			}
			if t.Guard != nil {
				m.guardTrips.WithLabelValues(t.Name).Inc()
			}
			q := 0.0
			if strings.HasPrefix(t.Skipped, "quarantined") {
				q = 1
			}
			m.quarantined.WithLabelValues(t.Name).Set(q)
		}
	})
	slices.SortStableFunc(p.Rejects, func(a, b plan.Reject) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Target, b.Target))
	})
	return p, nil
}

// keepDetails makes the state's details cache files when there are none
// (a first sync has nothing to copy), or brings them up to date after
// this process's commits (a daemon's), so that this plan and the next
// read changed records' stored details from them. A full plan does it
// first, before its heap is advised for huge pages (hugeheap_later.go):
// the walk's garbage, spread over that range, made the 1M bench's first
// plan after its apply peak at 301 MB against 216 MB.
func (e *Engine) keepDetails() error {
	start := time.Now()
	made, err := e.store.KeepDetails()
	if made > 0 {
		e.opts.Log.Info("state: made the details cache files", "keys", made, "seconds", time.Since(start).Seconds())
	}
	return err
}

// detailsWork is keepDetails, run beside the plan's first index load.
type detailsWork struct {
	done chan struct{}
	err  error
}

func (w *detailsWork) wait() error {
	<-w.done
	return w.err
}

// startKeepDetails starts keepDetails when keep is set. Files that exist
// need only the keys committed since read back, a few milliseconds of one
// core (20 ms at 1M keys, most of it loading the files' block lists), so
// that runs while the first source's read and index load start; a plan
// reads no details before its index is loaded. Making the files walks
// every key, and is done first, as keepDetails says why.
func (e *Engine) startKeepDetails(keep bool) (*detailsWork, error) {
	w := &detailsWork{done: make(chan struct{})}
	if !keep || !e.store.HasDetails() {
		defer close(w.done)
		if keep {
			return w, e.keepDetails()
		}
		return w, nil
	}
	detailsBeside.Add(1)
	go func() {
		defer close(w.done)
		w.err = e.keepDetails()
	}()
	return w, nil
}

// detailsBeside counts the keepDetails run beside a read, for tests.
var detailsBeside atomic.Int64

// readFull decides whether this run reads s in full: always for full
// sources, on --full, on a first run, after a run that left ops undone, and
// when the schedule says a full run is due. A target whose rules read the
// clock also needs every record each run (a start date can arrive with no
// change to the record), so its source is read in full.
func (e *Engine) readFull(s *source, force bool) (bool, error) {
	if force || s.cfg.Read != "delta" {
		return true, nil
	}
	for _, t := range s.targets {
		if t.usesNow {
			e.opts.Log.Info("reading in full: a rule reads now", "source", s.cfg.Name, "target", t.cfg.Name)
			return true, nil
		}
	}
	w, ok, err := e.store.Watermark(s.cfg.Name)
	if err != nil || !ok || !w.Clean {
		return true, err
	}
	if n := s.cfg.FullEveryRuns; n > 0 && w.DeltaRuns >= n {
		return true, nil
	}
	if d := s.cfg.FullEvery; d > 0 && e.opts.Now.Unix()-w.LastFull >= int64(d.Seconds()) {
		return true, nil
	}
	// An escrowed op due for a retry needs its record, which a delta may
	// not carry.
	for _, t := range s.targets {
		due := false
		err := e.store.ScanEscrow(t.cfg.Name, func(es snapshots.Escrow) error {
			due = due || (!es.Dropped && es.NextRetry <= e.opts.Now.Unix())
			return nil
		})
		if err != nil || due {
			return true, err
		}
	}
	return false, nil
}

// isTargetDown reports a failure to reach or use a target at all (as
// opposed to a broken state store): the target is skipped, others go on.
func isTargetDown(err error) bool {
	return errors.Is(err, connectors.ErrRetryable) || errors.Is(err, connectors.ErrTerminal)
}

func (e *Engine) planSource(ctx context.Context, s *source, full, apply bool, gc *sparseGC, presizeBudget int64, details *detailsWork) (*sourceRun, error) {
	sr := &sourceRun{s: s, full: full, dups: map[string][]int64{}, ready: make(chan struct{}), gc: gc, presizeBudget: presizeBudget}
	defer func() {
		if sr.releaseIndex != nil {
			sr.releaseIndex()
		}
	}()
	var active []*targetRun // skipped targets are reported, in config order, but given no ops
	for _, t := range s.targets {
		tr, err := e.startTarget(ctx, t)
		if err != nil {
			return nil, err
		}
		sr.runs = append(sr.runs, tr)
		if tr.out.Skipped == "" {
			active = append(active, tr)
		}
	}
	src, err := openSource(s, !full, sr.reject, &sr.batches)
	if err != nil {
		return nil, err
	}
	sr.expected = e.expectedRows(sr, src)
	var later int64
	if e.opts.PlanMemoryLimit > 0 {
		// A plan of mostly creates keeps what it reads: before it reads,
		// the heap it will fill gets huge pages (hugeheap.go). So does a
		// process's first later plan, within bounds (hugeheap_later.go),
		// but as its read starts: what that plan keeps is its index, and
		// the advice's collection took 12-27 ms of a 1M steady plan, on
		// one core, that the source can read beside.
		if size := hugeHeapFor(e.expectedCreates(sr.expected, active), apply); size > 0 {
			adviseHugeHeap(size)
		} else if !full {
			later = laterHugeHeap(false, sr.expected, 0)
		} else if e.indexFiles(active) {
			later = laterHugeHeap(true, sr.expected, e.mostEntries(active))
		}
	}
	err = e.readParallel(ctx, sr, src, active, func() error {
		if later > 0 {
			adviseHugeHeap(later)
		}
		if err := e.loadIndexes(sr, active); err != nil {
			return err
		}
		if err := details.wait(); err != nil {
			return err
		}
		sr.gc.indexed(indexBytes(sr.keys, active))
		// Sized for the read: growing a table of a million keys rehashes
		// it over and over, on the goroutine that records results.
		sr.seen = newSeenSet(sr.keys, sr.expected)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	for key, lines := range sr.dups {
		sr.rejects = append(sr.rejects, plan.Reject{Source: s.cfg.Name, File: src.Name(), Line: int(lines[0]), Key: key,
			Reason: fmt.Sprintf("duplicate key on lines %s; every copy quarantined", joinLines(lines))})
	}
	for _, tr := range active {
		if err := e.resolveUniques(ctx, sr, tr, src.Name()); err != nil {
			return nil, err
		}
		if err := e.resolveMatches(ctx, sr, tr, src.Name()); err != nil {
			return nil, err
		}
	}
	// finish only reads the source run, so targets finish side by side:
	// sorting a first plan's millions of ops is most of it.
	errs := make([]error, len(active))
	var wg sync.WaitGroup
	for i, tr := range active {
		wg.Go(func() { errs[i] = e.finish(sr, tr) })
	}
	wg.Wait()
	return sr, errors.Join(errs...)
}

func (e *Engine) startTarget(ctx context.Context, t *target) (*targetRun, error) {
	tr := &targetRun{t: t, groups: map[string]snapshots.GroupEntry{},
		failed: map[string]bool{}, claimed: map[string]string{},
		escrow: map[string]snapshots.Escrow{}, out: &plan.Target{Name: t.cfg.Name, Attrs: t.policy.Names()}}
	if q, ok, err := e.store.Quarantine(t.cfg.Name); err != nil {
		return nil, err
	} else if ok && q.Until > e.opts.Now.Unix() {
		tr.out.Skipped = fmt.Sprintf("quarantined until %s: %s", time.Unix(q.Until, 0).UTC().Format(time.RFC3339), q.Reason)
		return tr, nil
	}
	if err := e.recover(ctx, t); err != nil {
		if !isTargetDown(err) {
			return nil, err
		}
		tr.out.Skipped = "unreachable: " + err.Error()
		return tr, nil
	}
	err := e.store.ScanEscrow(t.cfg.Name, func(es snapshots.Escrow) error {
		tr.escrow[es.Key] = es
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range t.cfg.Attributes {
		if a.Sensitive {
			tr.out.Sensitive = append(tr.out.Sensitive, a.Name)
		}
	}
	serial, err := e.store.Serial(t.cfg.Name)
	if err != nil {
		return nil, err
	}
	tr.out.Serial = serial
	seal, err := e.store.Seal(t.cfg.Name)
	if err != nil {
		return nil, err
	}
	tr.version = t.version
	if salt := seal.Salt(); salt != 0 {
		tr.version = combine(t.version, salt)
	}
	err = e.store.ScanGroups(t.cfg.Name, func(g snapshots.GroupEntry) error {
		tr.groups[g.Name] = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	if tr.out.Managed, err = e.store.Count(t.cfg.Name); err != nil {
		return nil, err
	}
	if t.match >= 0 || len(t.unique) > 0 {
		conn, err := e.target(ctx, t)
		if err != nil {
			tr.out.Skipped = "unreachable: " + err.Error()
			return tr, nil
		}
		tr.matcher, _ = conn.(connectors.Matcher)
		if tr.matcher == nil && len(t.unique) > 0 {
			return nil, fmt.Errorf("target %s: selectUnique needs a target that can look values up, and %s cannot", t.cfg.Name, t.cfg.Type)
		}
	}
	return tr, nil
}

// reject records a bad input record. A record whose key is known still
// "occurs", so its object is neither touched nor treated as absent.
func (sr *sourceRun) reject(re *connectors.RecordError) {
	<-sr.ready
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, File: re.File, Line: re.Line,
		Column: re.Column, Field: re.Field, Key: re.Key, Reason: re.Reason})
	if strings.TrimSpace(re.Key) == "" {
		sr.unkeyed++
		return
	}
	if sr.seen == nil {
		return // the index failed to load, and the read is being stopped
	}
	if sr.occurs(strings.Clone(re.Key), sr.seen.position(re.Key), int64(re.Line)) {
		for _, tr := range sr.runs {
			tr.failed[re.Key] = true
		}
	}
}

// occurs notes one appearance of key and reports whether it is the first.
func (sr *sourceRun) occurs(key string, p position, line int64) bool {
	first, dup := sr.seen.add(key, p, line)
	if !dup {
		return true
	}
	if len(sr.dups[key]) == 0 {
		sr.dups[key] = []int64{first}
	}
	sr.dups[key] = append(sr.dups[key], line)
	return false
}

// tombstone deprovisions a managed object whose record a delta removed.
func (tr *targetRun) tombstone(key string) (*rowResult, error) {
	ie, ok, err := tr.index.get(key)
	if err != nil || !ok {
		return nil, err
	}
	return &rowResult{ops: diff.Absent(tr.t.policy, key, ie.stored(), diff.ReasonTombstone)}, nil
}

// fingerprint puts a record's fingerprint on the last of its n ops, just
// added: the one apply reaches last (highest rank, then group; see sortOps),
// so the fingerprint is stored only once all of them succeeded. A key's
// ops all come from its one record, so this needs no map of keys.
//
// A create followed only by memberships, a first sync's every user, takes
// it instead, ahead of them: its commit writes the entry anyway, and the
// memberships then write the user's groups alone. The target's seal and
// the engine's clearing of failed memberships keep that safe (see
// snapshots.Seal).
func (tr *targetRun) fingerprint(n int, hash uint64) {
	ops := tr.out.Ops[len(tr.out.Ops)-n:]
	if at := createAhead(ops); at >= 0 {
		ops[at].Hash = hash
		tr.out.Ahead++
		return
	}
	last := 0
	for i := range ops {
		if r, l := rank(ops[i]), rank(ops[last]); r > l || r == l && ops[i].Group >= ops[last].Group {
			last = i
		}
	}
	ops[last].Hash = hash
}

// createAhead returns the index of a key's user create when its other ops,
// at least one, are all memberships; -1 otherwise.
func createAhead(ops []plan.Op) int {
	at := -1
	for i, op := range ops {
		switch {
		case op.Action == connectors.AddMember || op.Action == connectors.RemoveMember:
		case op.Action == connectors.Create && op.Object == connectors.User && at < 0:
			at = i
		default:
			return -1
		}
	}
	if len(ops) < 2 {
		return -1
	}
	return at
}

// compacts reports whether a create planned now may be a compact one
// (plan.Compact): nothing patches its attributes later in planning, as
// matching does every create and choosing a unique value does some.
func (tr *targetRun) compacts(pick uniquePick) bool {
	return len(tr.t.policy.Attrs) > 0 && len(pick.attrs) == 0 && (tr.matcher == nil || tr.t.match < 0)
}

// add queues ops; desired is the identity's full desired state, which
// updates carry so apply can record it.
func (tr *targetRun) add(ops []connectors.Op, desired connectors.Attrs) {
	if need := len(tr.out.Ops) + len(ops); need > cap(tr.out.Ops) {
		// Double: append grows a large slice by a quarter, which copies a
		// first plan's millions of ops about four times over.
		grown := make([]plan.Op, len(tr.out.Ops), max(need, 2*cap(tr.out.Ops), 1024))
		copy(grown, tr.out.Ops)
		tr.out.Ops = grown
	}
	for _, op := range ops {
		var full connectors.Attrs
		if op.Action == connectors.Update {
			full = desired
		}
		tr.out.Ops = append(tr.out.Ops, plan.NewOp(op, full))
	}
}

// A nil *rowResult means the record's fingerprint matched state: nothing
// to do, known before evaluating. Every other outcome is a rowResult:
// nothing (evaluated, no work), notEvaluated (the target's wave was full)
// or the work itself.
var (
	nothing      = &rowResult{}
	notEvaluated = &rowResult{}
)

// rowResult is what one record means for one target, computed without
// touching shared state so workers can compute it in parallel; applyRow
// then records it, in input order.
type rowResult struct {
	reject  *plan.Reject // a rule failed: the record is quarantined
	refresh bool         // no ops, but a new fingerprint to store
	hash    uint64
	ops     []connectors.Op
	desired connectors.Attrs
	// values are the attributes of a compact create, ops[0] (see
	// targetRun.compacts).
	values plan.Packed
	pick   uniquePick
}

// evalRow evaluates one record for one target. It reads the target's
// index and the state store, both safe to share, and writes nothing. h is
// the record's fingerprint there, 0 when its slot holds it already (see
// fingerprints). pre is the record's stored details when its batch read
// them ahead.
func (e *Engine) evalRow(sr *sourceRun, tr *targetRun, ev *rules.Evaluator, s *rowScratch, i int, key string, pos position, line int64, h uint64, pre *storedDetails) (*rowResult, error) {
	t := tr.t
	if h == 0 {
		return nil, nil // same record, same policy: same result
	}
	ie, managed, err := tr.index.lookup(key, pos)
	if err != nil {
		return nil, err
	}
	if managed && sameFingerprint(ie.hash, h) && !t.usesNow {
		return nil, nil // as above, for a delta's index
	}
	if tr.full.Load() {
		return notEvaluated, nil
	}
	d, err := evaluate(t, ev, s, i, key)
	if err != nil {
		// Inside the check: errors.As takes re's address, so re is
		// allocated wherever it is declared, and this runs for every row
		// and target (2.8M allocations in a 1M first plan).
		if re := (ruleError{}); errors.As(err, &re) {
			return &rowResult{reject: &plan.Reject{Source: sr.s.cfg.Name, Target: t.cfg.Name, Rule: re.rule,
				File: sr.path(), Line: int(line), Key: key, Reason: re.err.Error()}}, nil
		}
	}
	if !d.InScope && !managed {
		return nothing, nil
	}
	var stored *diff.Stored
	if managed {
		if stored, err = e.storedFrom(ie, t, key, pre); err != nil {
			return nil, err
		}
	}
	r := s.result()
	r.hash = h
	r.pick = tr.pinUnique(&d, stored)
	compact := stored == nil && d.InScope && tr.compacts(r.pick)
	if compact {
		values := s.createValues(len(t.policy.Attrs))
		r.ops = s.appendOps(func(ops []connectors.Op) []connectors.Op {
			return diff.AppendCompactCreate(ops, t.policy, d, values)
		})
		// Packed here, on a worker, not where the plan records it.
		r.values, compact = s.packer().Pack(values)
	}
	if !compact {
		r.ops = s.appendOps(func(ops []connectors.Op) []connectors.Op { return diff.AppendPresent(ops, t.policy, d, stored) })
	}
	for _, op := range r.ops {
		if op.Action == connectors.Update {
			r.desired = d.Map(t.policy) // updates carry the full set
			break
		}
	}
	if len(r.ops) == 0 {
		r.refresh = true
	}
	if stored != nil {
		for i := range r.ops {
			r.ops[i].Version = stored.Version
		}
	}
	return r, nil
}

// applyRow records a row result in the target's plan.
func (sr *sourceRun) applyRow(tr *targetRun, key string, r *rowResult) {
	if r != nil && tr.closed {
		// Whatever it was (work, a rule error, or nothing at all) waits for
		// the next run: a worker may or may not have evaluated it, and the
		// plan must not depend on which.
		tr.out.Waiting++
		return
	}
	switch {
	case r == nil, r == nothing:
	case r == notEvaluated: // cannot happen: full is set only as closed is
		tr.out.Waiting++
	case r.reject != nil:
		sr.rejects = append(sr.rejects, *r.reject)
		tr.failed[key] = true
	case r.refresh:
		tr.out.Refresh = append(tr.out.Refresh, plan.Refresh{Key: key, Hash: r.hash})
	case tr.overBudget(key, r.ops):
	default:
		if len(r.pick.attrs) > 0 {
			tr.picks = append(tr.picks, r.pick)
		}
		tr.add(r.ops, r.desired)
		if r.values != "" {
			// The create, just added: it has no Desired, and its Hash is
			// set below.
			op := &tr.out.Ops[len(tr.out.Ops)-len(r.ops)]
			*op = plan.Compact(op.Op(), r.values)
		}
		tr.fingerprint(len(r.ops), r.hash)
		if r.ops[0].Action == connectors.Create && tr.matcher != nil && tr.t.match >= 0 {
			// Matched later, in one batch per target: see resolveMatches.
			tr.toMatch = append(tr.toMatch, len(tr.out.Ops)-len(r.ops))
		}
		tr.count(r.ops)
	}
}

// evaluate runs a target's rules on one record.
func evaluate(t *target, ev *rules.Evaluator, s *rowScratch, i int, key string) (diff.Desired, error) {
	d := diff.Desired{Key: key, InScope: true, Enabled: true}
	var err error
	if t.scope != nil {
		if d.InScope, err = ev.EvalBool(t.scope, i); err != nil {
			return d, ruleError{t.scope.Name, err}
		}
	}
	if !d.InScope {
		return d, nil
	}
	if t.enabled != nil {
		if d.Enabled, err = ev.EvalBool(t.enabled, i); err != nil {
			return d, ruleError{t.enabled.Name, err}
		}
	}
	if t.groups != nil {
		v, err := ev.Eval(t.groups, i)
		if err != nil {
			return d, ruleError{t.groups.Name, err}
		}
		d.Groups, _ = v.([]string)
	}
	d.Values = s.valuesFor(len(t.attrs))
	for j, p := range t.attrs {
		v, err := ev.Eval(p, i)
		if err != nil {
			return d, ruleError{p.Name, err}
		}
		if v == nil || v == "" {
			v = t.defaults[j] // "no value" is null or "" everywhere in idsync
		}
		d.Values[j] = v
	}
	return d, nil
}

// ruleError is a rule failing on one record: the record is quarantined.
type ruleError struct {
	rule string
	err  error
}

func (r ruleError) Error() string { return r.rule + ": " + r.err.Error() }

// stored reads a managed object's full last-known state.
func (e *Engine) stored(target, key string) (*diff.Stored, error) {
	en, ok, err := e.store.Get(target, key)
	if err == nil && ok {
		en.Groups, err = e.store.Groups(target, key)
	}
	if err != nil {
		return nil, fmt.Errorf("target %s key %q: read state: %w", target, key, err)
	}
	if !ok {
		return nil, fmt.Errorf("target %s key %q: state entry vanished during planning", target, key)
	}
	st := &diff.Stored{ID: en.ID, Disabled: en.Disabled, Deprovisioned: en.Deprovisioned, Groups: en.Groups}
	return st, decodeStored(st, en.Attrs, target, key)
}

// storedFrom completes an index entry with its attributes and groups: the
// rest of it is already in memory. pre, when not nil, has them already.
func (e *Engine) storedFrom(ie indexEntry, t *target, key string, pre *storedDetails) (*diff.Stored, error) {
	if pre == nil {
		raw, groups, err := e.store.Details(t.cfg.Name, key, t.policy.Groups)
		if err != nil {
			return nil, fmt.Errorf("target %s key %q: read state: %w", t.cfg.Name, key, err)
		}
		pre = &storedDetails{raw: raw, groups: groups}
	}
	st := ie.stored()
	st.Groups = pre.groups
	return st, decodeStored(st, pre.raw, t.cfg.Name, key)
}

func decodeStored(st *diff.Stored, raw []byte, target, key string) error {
	var err error
	if st.Attrs, st.Version, err = decodeState(raw); err != nil {
		return fmt.Errorf("target %s key %q: stored attributes: %w", target, key, err)
	}
	return nil
}

func (sr *sourceRun) path() string {
	if sr.full {
		return sr.s.cfg.Path
	}
	return sr.s.cfg.Delta
}

func joinLines(lines []int64) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = fmt.Sprint(l)
	}
	return strings.Join(s, ", ")
}
