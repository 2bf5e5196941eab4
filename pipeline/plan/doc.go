// Package plan holds the types of a provisioning plan: the ops idsync would
// apply per target, what it quarantined, and what its guards stopped. The
// engine makes plans; planfmt prints them; apply executes them.
package plan
