// Command e2e runs idsync's end-to-end performance scenarios on generated
// data and prints a markdown table with each figure's ratio to two
// baselines measured in the same run: parsing the same CSV and nothing else
// (the floor), and the same work written as SQL in DuckDB (the peer).
//
//	go run ./bench/e2e -n 1000000
//
// `make bench-e2e` runs it; results also go to bench/results/ as JSON.
package main
