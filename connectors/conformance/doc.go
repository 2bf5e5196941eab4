// Package conformance is the behaviour every target kind must share,
// written once as a test suite that each target package runs against a
// real instance of its system.
package conformance
