// Package planfmt renders plans for people (terraform-like text) and for
// programs (JSON Lines, one op per line).
package planfmt
