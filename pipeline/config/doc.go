// Package config loads idsync's YAML configuration: it interpolates
// ${env:...} and ${file:...} references, resolves relative paths against the
// file's directory, and reports every problem at once with file:line.
package config
