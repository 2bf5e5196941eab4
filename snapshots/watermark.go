package snapshots

import (
	"encoding/json"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
)

// Watermark records how a source was last read, so delta runs know when a
// full run is due.
type Watermark struct {
	// LastFull and LastRun are Unix seconds.
	LastFull int64 `json:"lastFull"`
	LastRun  int64 `json:"lastRun"`
	// DeltaRuns counts delta runs since the last full one.
	DeltaRuns int `json:"deltaRuns"`
	// Clean is false when the last run left ops undone: the next run must
	// then be full, since a later delta would not carry those records.
	Clean bool `json:"clean"`
	// FullRecords is how many records the last full read held: the
	// expected size of the next, for a progress bar's ETA.
	FullRecords int `json:"fullRecords,omitempty"`
}

// Watermark returns the source's watermark; ok is false before its first
// run.
func (s *Store) Watermark(source string) (w Watermark, ok bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(watermarkKey(source))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &w) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Watermark{}, false, nil
	}
	return w, err == nil, err
}

// SetWatermark stores the source's watermark.
func (s *Store) SetWatermark(source string, w Watermark) error {
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(watermarkKey(source), b) })
}
