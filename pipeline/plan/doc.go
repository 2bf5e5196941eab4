// Package plan holds the types of a provisioning plan: the ops idsync would
// apply per target, what it quarantined, and what its guards stopped. The
// engine makes plans; planfmt prints them; apply executes them.
//
// A first sync's plan is millions of creates, so the engine may hold a
// create's attributes compactly (see Compact). Whatever reads a plan's
// changes goes through Target.Plain or Target.Own.
package plan
