// Package scim is a target that provisions users and groups into apps
// speaking SCIM 2.0 (RFC 7643/7644): POST to create, PATCH with only the
// changed attributes, filtered GETs to match, and polite HTTP (TLS always,
// a token-bucket rate limit, Retry-After honoured by the engine's retries).
package scim
