// Package attrjson appends attribute values and sets as JSON, byte for
// byte as encoding/json writes them, without its reflection. Plans and
// state write millions of attribute sets; encoding/json was a tenth of an
// apply's CPU.
package attrjson
