package snapshots

import (
	"bytes"
	"encoding/binary"
)

// FormatVersion is the key-layout version written to every store. Any
// change to the keys or the entry encoding below must bump it and teach Open
// to migrate (or refuse) older layouts; a store with a higher version than
// this build knows is refused rather than misread.
const FormatVersion = 11

// Key families. Each starts with one byte so families never interleave and
// a prefix scan reads exactly one of them.
const (
	famMeta   = 'm' // m/version, m/serial/<target>, m/seal/<target>, m/count/<target>, m/journal/<target>, m/legacy-groups
	famObject = 'o' // o<target>\x00<key> -> entry, without its attributes (v3)
	// famRecord holds entries' attributes apart from the rest (v3): a plan
	// scans every entry's fingerprint and link, and reading the attributes
	// along with them made that scan ten times the bytes. Since v9 they
	// and users' groups are keyed by the source key first, so that a
	// changed record's attributes in every target, and its groups, sit
	// side by side: a plan reads them all for each record it diffs, and
	// at 1M identities, 1,000 changed records scattered over state read
	// 1.6-1.8x faster that way than from a family per kind
	// (BenchmarkSparseReads).
	famRecord = 'r' // r<key>\x00<target>\x00<kind> -> attributes (kindAttrs) or groups (kindGroups)
	famLink   = 'l' // l<target>\x00<id>  -> key
	famGroup  = 'g' // g<target>\x00<name> -> group entry
	famWater  = 'w' // w<source>          -> watermark
	famJourn  = 'j' // j<target>\x00<key> -> an op sent but not yet acknowledged
	famEscrow = 'e' // e<target>\x00<key> -> a failed op waiting for its retry
	famQuar   = 'q' // q<target>          -> the target's quarantine
	// famDeprov lists the deprovisioned objects (v2): a delta run expires
	// their grace periods without scanning every entry.
	famDeprov = 'd' // d<target>\x00<key> -> since (Unix seconds)
	// The families that held attributes (v3) and users' groups (v5) until
	// v9 moved both into famRecord; only the upgrade reads them.
	famAttrs   = 'a' // a<target>\x00<key> -> attributes
	famMembers = 'n' // n<target>\x00<key> -> group names
	// famBatch journals a bulk's ops in one record (v7): a record per op,
	// set and then deleted, was two of the six entries a first apply
	// wrote per create.
	famBatch = 'b' // b<target>\x00<number, 8 bytes> -> the bulk's journal records
)

var versionKey = []byte("m/version")

func serialKey(target string) []byte { return []byte("m/serial/" + target) }

func sealKey(target string) []byte { return []byte("m/seal/" + target) }

// objectPrefix is the prefix of all entries of one target. The NUL
// separator cannot occur in a target name, so "hr" never scans "hr2".
// countKey holds how many entries target has (v2), kept in step by every
// commit so a delta run need not count them.
func countKey(target string) []byte { return []byte("m/count/" + target) }

// legacyGroupsKey is set while users' groups may still sit inside their
// attributes, as stores before v5 kept them (see MoveGroups).
var legacyGroupsKey = []byte("m/legacy-groups")

// journalMarkKey is set while target's journal may hold records (v4).
func journalMarkKey(target string) []byte { return []byte("m/journal/" + target) }

func deprovPrefix(target string) []byte {
	return append(append([]byte{famDeprov}, target...), 0)
}

func deprovKey(target, key string) []byte { return append(deprovPrefix(target), key...) }

func objectPrefix(target string) []byte {
	return append(append([]byte{famObject}, target...), 0)
}

func objectKey(target, key string) []byte { return append(objectPrefix(target), key...) }

// The kinds of famRecord's values. Attributes sort before groups, so
// that a walk in key order reads a target's attributes first. Groups have
// had a key of their own since v5, so that a membership commit writes a
// few bytes instead of reading and rewriting the user's attributes.
const (
	kindAttrs  = 'a'
	kindGroups = 'n'
)

// recordKey is key's value of one kind in target. A target name holds no
// NUL, so the key is everything before the second NUL from the end, even
// a key that holds NULs itself.
func recordKey(target, key string, kind byte) []byte {
	k := make([]byte, 0, len(key)+len(target)+4)
	k = append(append(append(k, famRecord), key...), 0)
	return append(append(append(k, target...), 0), kind)
}

func attrsKey(target, key string) []byte { return recordKey(target, key, kindAttrs) }

func membersKey(target, key string) []byte { return recordKey(target, key, kindGroups) }

// cutRecordKey splits a famRecord key (see recordKey).
func cutRecordKey(k []byte) (target, key string, kind byte, ok bool) {
	t, ky, kind, ok := cutRecordKeyBytes(k)
	return string(t), string(ky), kind, ok
}

// cutRecordKeyBytes is cutRecordKey without copies: target and key point
// into k.
func cutRecordKeyBytes(k []byte) (target, key []byte, kind byte, ok bool) {
	if len(k) < 4 || k[0] != famRecord || k[len(k)-2] != 0 {
		return nil, nil, 0, false
	}
	rest := k[1 : len(k)-2]
	at := bytes.LastIndexByte(rest, 0)
	if at < 0 {
		return nil, nil, 0, false
	}
	return rest[at+1:], rest[:at], k[len(k)-1], true
}

func groupPrefix(target string) []byte {
	return append(append([]byte{famGroup}, target...), 0)
}

func groupKey(target, name string) []byte { return append(groupPrefix(target), name...) }

func watermarkKey(source string) []byte { return append([]byte{famWater}, source...) }

func journalPrefix(target string) []byte {
	return append(append([]byte{famJourn}, target...), 0)
}

func journalKey(target, key string) []byte { return append(journalPrefix(target), key...) }

func batchPrefix(target string) []byte {
	return append(append([]byte{famBatch}, target...), 0)
}

func batchKey(target string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(batchPrefix(target), n)
}

func escrowPrefix(target string) []byte {
	return append(append([]byte{famEscrow}, target...), 0)
}

func escrowKey(target, key string) []byte { return append(escrowPrefix(target), key...) }

func quarantineKey(target string) []byte { return append([]byte{famQuar}, target...) }

func linkKey(target, id string) []byte {
	return append(append(append([]byte{famLink}, target...), 0), id...)
}

func putUint64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// cutTargetKey splits a per-target key (family byte, target, NUL, key).
func cutTargetKey(k []byte) (target, key string, ok bool) {
	t, rest, ok := bytes.Cut(k[1:], []byte{0})
	return string(t), string(rest), ok
}
