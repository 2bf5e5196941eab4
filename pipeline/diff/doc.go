// Package diff turns one identity's desired state and its last-known state
// into the minimal ops for one target. It is pure: no I/O, no clock, no
// state of its own, so the full and delta paths share it and can be
// checked against each other.
package diff
