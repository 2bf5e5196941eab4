package scim

import (
	"errors"
	"time"
)

// Secret is a credential. It prints as "[redacted]" wherever it ends up
// (logs, errors, %v), so a token cannot leak by formatting.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// MarshalText keeps secrets out of JSON and YAML dumps too.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// OAuth2 is the client-credentials grant (RFC 6749 §4.4).
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret Secret
	Scopes       []string
}

// Options configure a SCIM target. Zero values take the stated defaults.
type Options struct {
	// URL is the SCIM base, such as https://app.example.com/scim/v2.
	// Required, and it must be https.
	URL string
	// Bearer is a static token. Exactly one of Bearer and OAuth2 is set.
	Bearer Secret
	// OAuth2 fetches and refreshes tokens with client credentials.
	OAuth2 *OAuth2
	// CAFile is a PEM bundle of roots to trust instead of the system's.
	// Verification is never turned off.
	CAFile string
	// Attributes are the SCIM paths idsync manages: userName,
	// name.givenName, emails[type eq "work"].value,
	// urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department.
	Attributes []string
	// RateLimit is the most requests per second. Defaults to 50.
	RateLimit float64
	// Timeout bounds one request. Defaults to 30s.
	Timeout time.Duration
	// PageSize is the count asked for per page of results. Defaults to 100;
	// servers may cap it lower, which paging handles.
	PageSize int
	// Concurrency sizes the connection pool. Defaults to 8.
	Concurrency int
	// Bulk sends ops in Bulk requests when the server supports them.
	// Defaults to false: per-op requests isolate failures best, and many
	// servers implement Bulk loosely.
	Bulk bool
}

func (o *Options) defaults() error {
	if o.URL == "" {
		return errors.New("scim target: url is required")
	}
	if (o.Bearer == "") == (o.OAuth2 == nil) {
		return errors.New("scim target: set exactly one of auth.bearer and auth.oauth2")
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return nil
}
