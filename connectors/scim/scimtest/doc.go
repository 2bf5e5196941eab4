// Package scimtest runs real SCIM 2.0 servers written by others for tests:
// github.com/elimity-com/scim in-process (strict) and the npm packages
// scimmy + scimmy-routers under Node.js (lenient). Both sit behind a TLS
// front that does authentication (static bearer, or OAuth2 client
// credentials with expiring tokens) and injects faults on demand. The
// front only adds what real deployments put in front of an app; the SCIM
// protocol is the servers' own.
package scimtest
