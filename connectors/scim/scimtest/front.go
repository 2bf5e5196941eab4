package scimtest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Credentials every server accepts.
const (
	Token        = "test-bearer-token"
	ClientID     = "idsync"
	ClientSecret = "test-client-secret"
)

// Server is a running SCIM server behind the front.
type Server struct {
	// URL is the SCIM base URL (https), TokenURL the OAuth2 endpoint.
	URL, TokenURL string
	// CAFile is the PEM file a client must trust.
	CAFile string
	// Name says which implementation runs behind the front.
	Name string

	front   *httptest.Server
	backend http.Handler
	// users and groups read the server's resources back (id -> resource),
	// for tests that compare what the app holds with what the rules say.
	users, groups func() map[string]map[string]any

	mu                 sync.Mutex
	etags              bool
	preconditionFailed int
	faults             []Fault
	tokens             map[string]time.Time // issued OAuth token -> expiry
	creates            atomic.Int64
	posts              atomic.Int64
	requests           map[string]int // "METHOD /path-suffix" -> count
	delay              time.Duration
}

// Fault is one injected failure, consumed by the next matching request.
type Fault struct {
	// Status is sent instead of forwarding (429, 500, 503 ...). Zero with
	// Hang or Reset set.
	Status int
	// RetryAfter is sent as the Retry-After header, when set.
	RetryAfter string
	// Hang holds the request this long before forwarding it: past the
	// client's timeout, it is a timeout.
	Hang time.Duration
	// Reset drops the connection without a response.
	Reset bool
	// Method limits the fault to one HTTP method; empty matches any.
	Method string
	// Path limits the fault to requests whose path ends so ("/Users");
	// empty matches any.
	Path string
}

func newServer(t testing.TB, name string, backend http.Handler) *Server {
	t.Helper()
	s := &Server{Name: name, backend: backend, tokens: map[string]time.Time{}, requests: map[string]int{}}
	caFile, cert := certs(t, t.TempDir())
	s.front = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.front.StartTLS()
	t.Cleanup(s.front.Close)
	s.URL, s.TokenURL, s.CAFile = s.front.URL+"/scim/v2", s.front.URL+"/oauth/token", caFile
	return s
}

// Inject queues faults for the next requests, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// ClearFaults drops every fault not yet consumed.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Slow delays every request by d, to widen windows for crash tests.
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// ExpireTokens makes every OAuth token issued so far invalid, as if they
// had reached their lifetime.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Users returns every user the server holds, keyed by id.
func (s *Server) Users() map[string]map[string]any { return s.users() }

// Groups returns every group the server holds, keyed by id.
func (s *Server) Groups() map[string]map[string]any { return s.groups() }

// Requests counts requests with that method and path (relative to the
// SCIM base, such as "/Bulk").
func (s *Server) Requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method+" "+path]
}

// Posts counts every POST /Users that reached the front, failed or not.
func (s *Server) Posts() int64 { return s.posts.Load() }

// Creates counts successful POST /Users the server received.
func (s *Server) Creates() int64 { return s.creates.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		s.issueToken(w, r)
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid or expired token")
		return
	}
	s.mu.Lock()
	delay := s.delay
	var fault *Fault
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasSuffix(r.URL.Path, f.Path) {
			fault = &s.faults[i]
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	time.Sleep(delay)
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") {
		s.posts.Add(1)
	}
	s.mu.Lock()
	s.requests[r.Method+" "+strings.TrimPrefix(r.URL.Path, "/scim/v2")]++
	s.mu.Unlock()
	if fault != nil {
		switch {
		case fault.Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
		case fault.Hang > 0:
			select {
			case <-time.After(fault.Hang):
			case <-r.Context().Done():
				return
			}
		default:
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			writeError(w, fault.Status, "injected fault")
			return
		}
	}
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/scim/v2")
	s.mu.Lock()
	etags := s.etags
	s.mu.Unlock()
	if etags {
		s.serveETags(w, r)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/Users" {
		rec := &statusRecorder{ResponseWriter: w}
		s.backend.ServeHTTP(rec, r)
		if rec.status == http.StatusCreated {
			s.creates.Add(1)
		}
		return
	}
	s.backend.ServeHTTP(w, r)
}

func (s *Server) authorized(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	if tok == Token {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		_ = r.ParseForm()
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != ClientID || secret != ClientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(time.Hour)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func writeError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": status, "detail": detail})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Connection is the YAML that points an idsync scim target at s: its url,
// auth and tls keys, one per line, continued at a target's indent (4
// spaces). auth is the inside of the auth map; empty means a bearer
// token the server accepts.
func (s *Server) Connection(auth string) string {
	if auth == "" {
		auth = "bearer: " + Token
	}
	return fmt.Sprintf("url: %s\n    auth: {%s}\n    tls: {ca: %s}", s.URL, auth, s.CAFile)
}
