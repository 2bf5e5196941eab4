// Command gen writes seeded HR populations and change sets as CSV or JSONL:
//
//	go run ./bench/gen -n 100000 -o /tmp/hr.csv
//	go run ./bench/gen -n 1000 -hires 15 -moves 10 -o day2.csv
package main
