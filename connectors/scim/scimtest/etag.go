package scimtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
)

// EnableETags makes the front add what neither server offers: versions.
// It advertises etag support, sends an ETag (a hash of the resource as the
// server returns it) with every single-resource response, and answers 412
// to a write whose If-Match is not the current version. The resources and
// their changes stay the server's own.
func (s *Server) EnableETags() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etags = true
}

// PreconditionFailures counts the 412s the ETag mode sent.
func (s *Server) PreconditionFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preconditionFailed
}

var singleUser = regexp.MustCompile(`^/Users/[^/]+$`)

// serveETags forwards r to the backend with ETag semantics on top.
func (s *Server) serveETags(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/ServiceProviderConfig" {
		rec := httptest.NewRecorder()
		s.backend.ServeHTTP(rec, r)
		var cfg map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &cfg)
		cfg["etag"] = map[string]any{"supported": true}
		w.Header().Set("Content-Type", "application/scim+json")
		_ = json.NewEncoder(w).Encode(cfg)
		return
	}
	single := singleUser.MatchString(r.URL.Path)
	if single && (r.Method == http.MethodPatch || r.Method == http.MethodDelete) && r.Header.Get("If-Match") != "" {
		if current := s.version(r.URL.Path); current != "" && current != r.Header.Get("If-Match") {
			s.mu.Lock()
			s.preconditionFailed++
			s.mu.Unlock()
			writeError(w, http.StatusPreconditionFailed, "the resource has changed")
			return
		}
	}
	rec := httptest.NewRecorder()
	s.backend.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if rec.Code < 300 && (single || r.Method == http.MethodPost) && rec.Body.Len() > 0 {
		w.Header().Set("ETag", etagOf(rec.Body.Bytes()))
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// version is the current ETag of a resource, read from the backend.
func (s *Server) version(path string) string {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	s.backend.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return ""
	}
	return etagOf(rec.Body.Bytes())
}

// etagOf hashes a resource without its meta, which some servers restamp.
func etagOf(body []byte) string {
	var res map[string]any
	if json.Unmarshal(body, &res) != nil {
		return ""
	}
	delete(res, "meta")
	canon, _ := json.Marshal(res) // map keys marshal sorted: a stable form
	sum := sha256.Sum256(canon)
	return `W/"` + hex.EncodeToString(sum[:8]) + `"`
}
