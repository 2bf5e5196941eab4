package pipeline

import "math"

// seenSet records the keys a read has met, each with the line it first
// appeared on. On a full read most keys are already numbered by the
// shared keyTable, so their lines go in a slice by number and cost no
// probe of their own; keys new to state are numbered by a table of their
// own. Lines start at 1, so 0 marks a key not seen.
type seenSet struct {
	keys *keyTable // nil on a delta read
	// lines holds the lines by key number in 4 bytes each (40 MB less at
	// 10M keys than 8); a line past what they hold is in far instead.
	lines []uint32
	far   map[int32]int64
	// other numbers the keys state does not hold, with otherLines by
	// number. It was a Go map: in a first sync, where every key is new,
	// its probes and its growth took 0.7 s of CPU of a 1M plan.
	other      *keyTable
	otherLines []int64
	n          int
}

// newSeenSet returns a set for a read expected to bring about expected
// records (-1: unknown), keys being the keys state numbers (nil on a
// delta read).
func newSeenSet(keys *keyTable, expected int) *seenSet {
	s := &seenSet{keys: keys}
	if keys != nil {
		// Keys already numbered need no room in other: a table sized for
		// all of them was 62 MB of a 1M plan's garbage.
		s.lines = make([]uint32, keys.len())
		expected -= keys.len()
	}
	// A first sync's keys are all new: growing other to a million of them
	// rehashed it over and over, on the goroutine that records results.
	expected = max(0, expected)
	s.other, s.otherLines = newKeyTable(expected), make([]int64, 0, expected)
	return s
}

// position finds key in the shared table, for callers that do not have
// its position yet.
func (s *seenSet) position(key string) position {
	if s.keys == nil {
		return position{}
	}
	n, ok := s.keys.find(key)
	return position{n, ok}
}

// positionNear is position for a key that is probably number guess.
func (s *seenSet) positionNear(key string, guess int32) position {
	if s.keys == nil {
		return position{}
	}
	n, ok := s.keys.findNear(key, guess)
	return position{n, ok}
}

// add notes key on line and returns the line it was first seen on, and
// whether it had been seen before.
func (s *seenSet) add(key string, p position, line int64) (int64, bool) {
	if p.known {
		if first := s.lineAt(p.n); first != 0 {
			return first, true
		}
		s.setLine(p.n, line)
		s.n++
		return line, false
	}
	if n, ok := s.other.find(key); ok {
		return s.otherLines[n], true
	}
	s.other.add([]byte(key))
	s.otherLines = append(s.otherLines, line)
	s.n++
	return line, false
}

// line returns the line key was first seen on.
func (s *seenSet) line(key string, p position) (int64, bool) {
	if p.known {
		l := s.lineAt(p.n)
		return l, l != 0
	}
	if n, ok := s.other.find(key); ok {
		return s.otherLines[n], true
	}
	return 0, false
}

// farLine in lines says the line is in far.
const farLine = math.MaxUint32

func (s *seenSet) setLine(n int32, line int64) {
	if line < farLine {
		s.lines[n] = uint32(line)
		return
	}
	if s.far == nil {
		s.far = map[int32]int64{}
	}
	s.lines[n], s.far[n] = farLine, line
}

// seenAt reports whether the key numbered n by the shared table was seen.
func (s *seenSet) seenAt(n int32) bool { return s.lines[n] != 0 }

func (s *seenSet) lineAt(n int32) int64 {
	if l := s.lines[n]; l != farLine {
		return int64(l)
	}
	return s.far[n]
}

// len is how many distinct keys were seen.
func (s *seenSet) len() int { return s.n }

// lineOf returns the line key was first seen on, or 0.
func (s *seenSet) lineOf(key string) int64 {
	l, _ := s.line(key, s.position(key))
	return l
}
