package pipeline

import "testing"

// TestSeenSetKeepsFirstLines covers both kinds of key: numbered by the
// shared table (in state) and new ones, on a full read and a delta.
func TestSeenSetKeepsFirstLines(t *testing.T) {
	keys := newKeyTable(0)
	keys.add([]byte("E1"))
	for _, s := range []*seenSet{newSeenSet(keys, 0), newSeenSet(nil, 0)} {
		for _, c := range []struct {
			key       string
			line      int64
			wantFirst int64
			wantDup   bool
		}{
			{"E1", 2, 2, false}, {"N1", 3, 3, false}, {"E1", 4, 2, true}, {"N1", 5, 3, true}, {"E1", 6, 2, true},
		} {
			first, dup := s.add(c.key, s.position(c.key), c.line)
			if first != c.wantFirst || dup != c.wantDup {
				t.Errorf("numbered=%v: add(%s, %d) = %d, %v; want %d, %v", s.keys != nil, c.key, c.line, first, dup, c.wantFirst, c.wantDup)
			}
		}
		if s.len() != 2 || s.lineOf("E1") != 2 || s.lineOf("N1") != 3 || s.lineOf("X") != 0 {
			t.Errorf("numbered=%v: len %d, lines E1 %d N1 %d X %d", s.keys != nil, s.len(), s.lineOf("E1"), s.lineOf("N1"), s.lineOf("X"))
		}
	}
}

// TestSeenSetKeepsLinesPastFourBytes: a numbered key's line is kept in 4
// bytes, and one past what they hold is kept whole beside them.
func TestSeenSetKeepsLinesPastFourBytes(t *testing.T) {
	keys := newKeyTable(0)
	for _, k := range []string{"E1", "E2", "E3"} {
		keys.add([]byte(k))
	}
	s := newSeenSet(keys, 3)
	for key, line := range map[string]int64{"E1": farLine - 1, "E2": farLine, "E3": 5_000_000_000} {
		if first, dup := s.add(key, s.position(key), line); first != line || dup {
			t.Errorf("add(%s, %d) = %d, %v", key, line, first, dup)
		}
		if first, dup := s.add(key, s.position(key), line+7); first != line || !dup {
			t.Errorf("add(%s) again = %d, %v; want %d, true", key, first, dup, line)
		}
		if got := s.lineOf(key); got != line {
			t.Errorf("lineOf(%s) = %d, want %d", key, got, line)
		}
	}
}
