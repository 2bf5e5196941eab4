package scim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"

	"github.com/idsync/idsync/connectors"
)

// client sends authenticated, rate-limited SCIM requests and classifies
// their failures. It never retries on its own: the engine does, with one
// policy for every target.
type client struct {
	base    *url.URL
	http    *http.Client
	limiter *rate.Limiter
	bearer  Secret
	oauth   *clientcredentials.Config
	oauthMu sync.Mutex
	token   *oauth2.Token
}

func newClient(o Options) (*client, error) {
	base, err := url.Parse(strings.TrimRight(o.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("scim target: url: %w", err)
	}
	if base.Scheme != "https" {
		return nil, fmt.Errorf("scim target: url %s must use https: tokens and personal data must not cross the network in clear", base.Redacted())
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("scim target: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("scim target: tls ca %s holds no PEM certificate", o.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		// Keep a warm connection per concurrent applier: reuse is most of
		// the speed of a SCIM client.
		MaxIdleConns:        2 * o.Concurrency,
		MaxIdleConnsPerHost: 2 * o.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	c := &client{
		base:    base,
		http:    &http.Client{Transport: transport, Timeout: o.Timeout},
		limiter: rate.NewLimiter(rate.Limit(o.RateLimit), max(1, int(o.RateLimit/10))),
		bearer:  o.Bearer,
	}
	if o.OAuth2 != nil {
		c.oauth = &clientcredentials.Config{ClientID: o.OAuth2.ClientID, ClientSecret: string(o.OAuth2.ClientSecret),
			TokenURL: o.OAuth2.TokenURL, Scopes: o.OAuth2.Scopes}
	}
	return c, nil
}

// authorization returns the Authorization header value; fresh fetches a
// new OAuth token even if the cached one looks valid (the server said 401).
func (c *client) authorization(ctx context.Context, fresh bool) (string, error) {
	if c.oauth == nil {
		return "Bearer " + string(c.bearer), nil
	}
	c.oauthMu.Lock()
	defer c.oauthMu.Unlock()
	if fresh || !c.token.Valid() {
		// The token endpoint gets the same TLS settings as SCIM itself.
		tok, err := c.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
		if err != nil {
			return "", tokenError(err)
		}
		c.token = tok
	}
	return "Bearer " + c.token.AccessToken, nil
}

// tokenError classifies a failed token request. A 400 or 401 from the
// token endpoint is a rejected client or grant (RFC 6749 section 5.2): a
// wrong secret stays wrong, so retrying only delays the quarantine. Network
// failures, 429 and 5xx may pass.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if code := re.Response.StatusCode; code == http.StatusBadRequest || code == http.StatusUnauthorized {
			return connectors.Terminal(nil, "oauth2 token: the token endpoint rejected the client (HTTP %d): check clientId and clientSecret: %s",
				code, redactErr(err))
		}
	}
	return connectors.Retryable(nil, "oauth2 token: %s", redactErr(err))
}

// response is a decoded SCIM response.
type response struct {
	status int
	body   map[string]any
	etag   string
}

// do sends one request. A 401 with OAuth2 gets one retry with a new token,
// which is how an expired token is refreshed mid-run.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) (response, error) {
	return c.doIf(ctx, method, path, query, body, "")
}

// doIf is do with an If-Match precondition (an ETag), when ifMatch is set.
func (c *client) doIf(ctx context.Context, method, path string, query url.Values, body any, ifMatch string) (response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return response{}, connectors.Terminal(err, "encode request")
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, method, path, query, payload, attempt > 0, ifMatch)
		if err == nil && resp.status == http.StatusUnauthorized && c.oauth != nil && attempt == 0 {
			continue
		}
		if err != nil {
			return resp, err
		}
		return resp, classify(method, path, resp)
	}
}

func (c *client) once(ctx context.Context, method, path string, query url.Values, payload []byte, freshToken bool, ifMatch string) (response, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return response{}, err
	}
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return response{}, connectors.Terminal(err, "build request")
	}
	auth, err := c.authorization(ctx, freshToken)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/scim+json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Timeouts, resets and refused connections may pass.
		return response{}, connectors.Retryable(nil, "%s %s: %s", method, path, redactErr(err))
	}
	defer resp.Body.Close() //nolint:errcheck // fully read below; close errors change nothing
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return response{}, connectors.Retryable(nil, "%s %s: reading response: %s", method, path, redactErr(err))
	}
	out := response{status: resp.StatusCode, etag: resp.Header.Get("ETag")}
	if len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &out.body) != nil && resp.StatusCode < 300 {
		return out, connectors.Terminal(nil, "%s %s: response is not a JSON object", method, path)
	}
	if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 {
		out.body = withRetryAfter(out.body, d)
	}
	return out, nil
}

// classify maps an HTTP status to the engine's error kinds, keeping the
// server's own detail and scimType.
func classify(method, path string, r response) error {
	if r.status < 300 {
		return nil
	}
	detail := fmt.Sprintf("%s %s: HTTP %d", method, path, r.status)
	if d, ok := r.body["detail"].(string); ok && d != "" {
		detail += ": " + d
	}
	if t, ok := r.body["scimType"].(string); ok && t != "" {
		detail += " (scimType " + t + ")"
	}
	e := &connectors.Error{Detail: detail, Status: r.status}
	switch {
	case r.status == http.StatusNotFound:
		e.Kind = connectors.ErrNotFound
	case r.status == http.StatusConflict:
		e.Kind = connectors.ErrExists
	case r.status == http.StatusTooManyRequests, r.status == http.StatusPreconditionFailed, r.status >= 500:
		e.Kind = connectors.ErrRetryable
		e.RetryAfter, _ = r.body[retryAfterKey].(time.Duration)
	default:
		e.Kind = connectors.ErrTerminal
	}
	return e
}

// retryAfterKey carries a parsed Retry-After inside the decoded body; it
// cannot collide with a SCIM attribute.
const retryAfterKey = "\x00retry-after"

func withRetryAfter(body map[string]any, d time.Duration) map[string]any {
	if body == nil {
		body = map[string]any{}
	}
	body[retryAfterKey] = d
	return body
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// redactErr drops the URL's query and user info from transport errors; a
// token never travels in either, but a misconfigured URL might carry one.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return fmt.Sprintf("%s %s: %v", ue.Op, u.Redacted(), ue.Err)
		}
	}
	return err.Error()
}
