package main

import (
	"fmt"
	"strings"
)

// schema is the generated population's columns.
const schema = `{employeeId: string, givenName: string, surname: string, department: string, title: string,
             managerId: string, status: string, hireDate: timestamp, country: string}`

// targets is the reference policy: 3 targets x 10 attributes, with plain
// copies, string building and conditionals, scope rules and a groups rule.
// The DuckDB baseline (bench/duckdb) writes the same mappings in SQL.
var targets = map[string]string{
	"directory": `
    scope: 'user.status != "Terminated"'
    groups: '[user.department]'
    attributes:
      userName: lowerAscii(user.employeeId)
      displayName: 'user.givenName + " " + user.surname'
      givenName: user.givenName
      surname: user.surname
      mail: 'lowerAscii(user.givenName + "." + user.surname) + "@example.com"'
      department: user.department
      title: user.title
      country: user.country
      manager: user.managerId
      active: 'user.status == "Active"'`,
	"app": `
    scope: 'user.status == "Active" && user.department in ["Engineering", "Product", "Research", "IT", "Support"]'
    attributes:
      login: 'lowerAscii(user.givenName) + "_" + user.employeeId'
      name: 'user.surname + ", " + user.givenName'
      team: user.department
      role: 'user.title in ["Manager", "Director"] ? "admin" : "member"'
      region: 'user.country in ["US", "BR"] ? "AMER" : (user.country in ["IN", "JP"] ? "APAC" : "EMEA")'
      email: 'lowerAscii(user.employeeId) + "@app.example.com"'
      lead: 'user.title == "Lead"'
      level: 'user.title == "Director" ? "L3" : (user.title == "Manager" ? "L2" : "L1")'
      upperName: upperAscii(user.surname)
      reportsTo: user.managerId`,
	"hris": `
    scope: 'user.status != "Terminated" || user.country == "US"'
    attributes:
      id: user.employeeId
      first: user.givenName
      last: user.surname
      dept: user.department
      job: user.title
      mgr: user.managerId
      status: user.status
      cc: user.country
      full: 'user.employeeId + ":" + user.surname'
      contractor: 'user.title == "Associate"'`,
}

// config renders an idsync config for the named targets of one kind. Its
// plans are whole (opsPerRun: 0): the comparison with DuckDB needs every
// change in one plan, and a first apply in one wave is what earlier runs
// measured.
func config(kind string, names ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "state: state\nsources:\n  hr:\n    type: csv\n    path: ${env:HR}\n    read: delta\n    delta: ${env:DELTA:-none.csv}\n    key: employeeId\n    schema: %s\ntargets:\n", schema)
	for _, n := range names {
		fmt.Fprintf(&b, "  %s:\n    type: %s\n    path: %s.%s\n    source: hr\n    %s\n    safety: {maxDeletes: 100000000}%s\n", n, kind, n, ext(kind), wholePlans, targets[n])
	}
	return b.String()
}

const wholePlans = "opsPerRun: 0"

// waves is cfg with each target's plan bounded by the default opsPerRun.
func waves(cfg string) string { return strings.ReplaceAll(cfg, "    "+wholePlans+"\n", "") }

func ext(kind string) string {
	if kind == "sqlite" {
		return "db"
	}
	return "jsonl"
}
