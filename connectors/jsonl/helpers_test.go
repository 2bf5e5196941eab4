package jsonl

import "github.com/idsync/idsync/connectors"

func createOp(key string) connectors.Op {
	return connectors.Op{Action: connectors.Create, Key: key, Changes: []connectors.Change{{Attr: "name", New: "Ann"}}, Reason: "new"}
}
