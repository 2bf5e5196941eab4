package pipeline

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// rank orders ops the way they must be applied: groups exist before
// members join them, objects exist before references and memberships point
// at them, and removals come last.
func rank(op plan.Op) int {
	if op.Object == connectors.Group {
		if op.Action == connectors.Create {
			return 0
		}
		return 9 // group deletes, after every membership removal
	}
	switch op.Action {
	case connectors.Adopt:
		return 1
	case connectors.Create:
		return 2
	case connectors.Enable:
		return 3
	case connectors.Update:
		return 4
	case connectors.AddMember:
		return 5
	case connectors.RemoveMember:
		return 6
	case connectors.Disable:
		return 7
	case connectors.Delete:
		return 8
	}
	return maxRank
}

// maxRank is the highest rank: ops of no known kind sort last.
const maxRank = 10

// sortOps orders ops by rank, then membership ops by group so apply can
// batch them, then by key, keeping equal ops in plan order. A first plan
// holds millions of ops of a few hundred bytes each, so it works out where
// each op goes and then moves the ops in place. Ops are first bucketed by
// rank (a stable counting sort). A bucket already in order, as a first
// sync's creates are when the source is in key order, is left as dealt;
// each of the others is sorted on its own (opSorter).
func sortOps(ops []plan.Op) {
	var start [maxRank + 2]int
	inOrder := [maxRank + 1]bool{}
	last := [maxRank + 1]int{}
	for r := range inOrder {
		inOrder[r], last[r] = true, -1
	}
	for i := range ops {
		r := rank(ops[i])
		start[r+1]++
		if j := last[r]; j >= 0 && inOrder[r] {
			inOrder[r] = cmp.Or(strings.Compare(ops[j].Group, ops[i].Group), strings.Compare(ops[j].Key, ops[i].Key)) <= 0
		}
		last[r] = i
	}
	for r := 1; r < len(start); r++ {
		start[r] += start[r-1]
	}
	// from[j] is the op that goes to place j.
	from := make([]int32, len(ops))
	next := start
	for i := range ops {
		r := rank(ops[i])
		from[next[r]] = int32(i)
		next[r]++
	}
	most := 0 // the largest bucket to sort: the sorter's spare fits it
	for r := range inOrder {
		if !inOrder[r] {
			most = max(most, start[r+1]-start[r])
		}
	}
	s := opSorter{ops: ops, spare: make([]int32, 0, most)}
	for r := 0; r <= maxRank; r++ {
		if !inOrder[r] {
			s.sort(from[start[r]:start[r+1]])
		}
	}
	permute(ops, from)
}

// opSorter sorts one rank's bucket of op places (indices into ops, in
// plan order) by group, key and place.
//
// Ops name few groups (users none, memberships a handful of departments),
// so places are first dealt into one run per group, keeping plan order,
// and each group's places are then sorted on their own. Places whose keys
// come in order are one ascending run and stay as they are; a source in
// numeric order has a few runs (E999999 sorts after E1000000), which are
// merged in linear time. Both read the ops' keys where they are, in plan
// order, and write only places: 4 bytes an op. Only places in many runs
// get sort keys, copies of their keys that sort without reaching into the
// ops. With keys for every op of every bucket not in order, a 1M first
// plan allocated 108 MB of them (its creates' keys come in two runs).
type opSorter struct {
	ops   []plan.Op
	spare []int32   // room for the largest bucket
	keys  []sortKey // made only for places in many runs
}

// fewGroups is how many distinct groups one bucket may have for the
// sorter to deal them rather than sort them.
const fewGroups = 64

// fewRuns is how many ascending runs the sorter merges rather than sorts.
const fewRuns = 8

func (s *opSorter) sort(bucket []int32) {
	g := groupOrder(s.ops, bucket)
	if len(g.count) > fewGroups {
		s.sortByKeys(bucket, g.number)
		return
	}
	if len(g.count) > 1 {
		s.deal(bucket, g)
	}
	n := 0
	for _, c := range g.count {
		if places := bucket[n : n+c]; !s.mergeRuns(places) {
			s.sortByKeys(places, nil)
		}
		n += c
	}
}

// deal orders places by group number, keeping plan order within each.
func (s *opSorter) deal(places []int32, g groups) {
	at := make([]int, len(g.count))
	for i := 1; i < len(at); i++ {
		at[i] = at[i-1] + g.count[i-1]
	}
	dealt := s.spare[:len(places)]
	for _, p := range places {
		n := g.number[s.ops[p].Group]
		dealt[at[n]] = p
		at[n]++
	}
	copy(places, dealt)
}

// mergeRuns sorts one group's places by key when their keys come in at
// most fewRuns ascending runs, merging each run into the sorted places
// before it; it reports false, with places unchanged, when there are more.
// A run's places come later in the plan than those of the runs before it,
// so taking the earlier run's place on equal keys keeps plan order.
func (s *opSorter) mergeRuns(places []int32) bool {
	var starts [fewRuns]int
	runs := 1
	for i := 1; i < len(places); i++ {
		if s.ops[places[i-1]].Key > s.ops[places[i]].Key {
			if runs == fewRuns {
				return false
			}
			starts[runs] = i
			runs++
		}
	}
	for r := 1; r < runs; r++ {
		mid, hi := starts[r], len(places)
		if r+1 < runs {
			hi = starts[r+1]
		}
		out, x, y := s.spare[:0], places[:mid], places[mid:hi]
		for len(x) > 0 && len(y) > 0 {
			if s.ops[y[0]].Key < s.ops[x[0]].Key {
				out, y = append(out, y[0]), y[1:]
			} else {
				out, x = append(out, x[0]), x[1:]
			}
		}
		out = append(append(out, x...), y...)
		copy(places, out)
	}
	return true
}

// sortByKeys sorts places by group (when number is given), key and place,
// through sort keys.
func (s *opSorter) sortByKeys(places []int32, number map[string]int32) {
	keys := s.keys[:0]
	for _, at := range places {
		keys = append(keys, sortKey{s.ops[at].Key, at, number[s.ops[at].Group]})
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		return cmp.Or(cmp.Compare(a.group, b.group), strings.Compare(a.key, b.key), cmp.Compare(a.at, b.at))
	})
	for k, key := range keys {
		places[k] = key.at
	}
	s.keys = keys
}

// sortKey is one op's place in a sort by keys: 24 bytes (at 40, with the
// group's name, they were 200 MB of a 1M first plan's allocations).
type sortKey struct {
	key   string
	at    int32 // the op's place in the plan
	group int32 // its group's number (see groupOrder)
}

// groups numbers the groups one rank's ops name in the order of their
// names, so that sort keys compare a number rather than a string, and
// counts the ops of each.
type groups struct {
	number map[string]int32
	count  []int
}

func groupOrder(ops []plan.Op, bucket []int32) groups {
	seen := map[string]int{}
	for _, at := range bucket {
		seen[ops[at].Group]++
	}
	g := groups{number: make(map[string]int32, len(seen)), count: make([]int, 0, len(seen))}
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		g.number[name] = int32(len(g.count))
		g.count = append(g.count, seen[name])
	}
	return g
}

// permute moves ops in place so that position i holds the op that was at
// from[i], following each cycle of the permutation with one spare op. A
// first plan's ops take gigabytes, so a sorted copy would cost their size
// again in memory and page faults. It uses up from.
func permute(ops []plan.Op, from []int32) {
	for i := range from {
		if from[i] < 0 || int(from[i]) == i {
			continue
		}
		spare := ops[i]
		j := i
		for int(from[j]) != i {
			at := int(from[j])
			ops[j] = ops[at]
			from[j] = -1
			j = at
		}
		ops[j] = spare
		from[j] = -1
	}
}
