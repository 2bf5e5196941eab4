// Command idsync is the CLI: it parses flags, loads config and state, and
// wires the engine to the terminal. It holds no provisioning logic.
package main
