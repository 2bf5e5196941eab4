package scim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/scim/scimtest"
)

func TestQuoteEscapesAndRefuses(t *testing.T) {
	tests := map[string]struct {
		in, want string
		err      bool
	}{
		"plain":          {in: "ann", want: `"ann"`},
		"quote":          {in: `x" or userName pr "`, want: `"x\" or userName pr \""`},
		"backslash":      {in: `a\b`, want: `"a\\b"`},
		"ldap-ish":       {in: `*)(uid=*`, want: `"*)(uid=*"`},
		"unicode kept":   {in: "Zoë", want: `"Zoë"`},
		"newline":        {in: "a\nb", err: true},
		"nul":            {in: "a\x00b", err: true},
		"unicode escape": {in: "\u0007", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := quote(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("%s: quote(%q) = %q, %v; want %q, error %v", name, tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	if got := retryAfter("7"); got != 7*time.Second {
		t.Errorf("seconds: %v", got)
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(time.RFC1123)
	if got := retryAfter(strings.Replace(date, "UTC", "GMT", 1)); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("HTTP date: %v, want about 90s", got)
	}
	if got := retryAfter("soon"); got != 0 {
		t.Errorf("garbage: %v, want 0", got)
	}
}

func TestPagingPastTheServerCap(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			tg := openOn(s, "title")(t).(*Target)
			defer tg.Close()
			for i := range 130 {
				_, err := tg.Apply(t.Context(), connectors.Op{Action: connectors.Create, Key: "k", Changes: []connectors.Change{
					{Attr: "userName", New: fmt.Sprintf("u%03d", i)}, {Attr: "title", New: "Pager"}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			// The strict server caps pages at 50 and scimmy at its own size;
			// the client asks for 100 and must follow the pages either way.
			got, err := tg.list(t.Context(), "/Users", `title eq "Pager"`)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 130 {
				t.Errorf("listed %d users, want 130", len(got))
			}
		})
	}
}

func TestTLSIsAlwaysVerified(t *testing.T) {
	s := scimtest.StartStrict(t)
	// Without the test CA the server's certificate is unknown: refused.
	_, err := Open(t.Context(), Options{URL: s.URL, Bearer: scimtest.Token})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("open without the CA: err = %v, want a certificate error", err)
	}
	if _, err := Open(t.Context(), Options{URL: strings.Replace(s.URL, "https://", "http://", 1), Bearer: scimtest.Token}); err == nil {
		t.Errorf("open over plain http: want a refusal")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := scimtest.StartStrict(t)
	const token = "wrong-token-s3cr3t"
	_, err := Open(t.Context(), Options{URL: s.URL, Bearer: token, CAFile: s.CAFile})
	if err == nil {
		t.Fatal("a wrong token was accepted")
	}
	o := Options{Bearer: token, OAuth2: &OAuth2{ClientSecret: token}}
	for _, text := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", o, o, o), fmt.Sprint(o.OAuth2)} {
		if strings.Contains(text, token) {
			t.Errorf("a secret leaked into %q", text)
		}
	}
	if !errors.Is(err, connectors.ErrTerminal) {
		t.Errorf("a refused token is terminal, got %v", err)
	}
}

func TestBadOAuthClientIsAnError(t *testing.T) {
	s := scimtest.StartStrict(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{URL: s.URL, CAFile: s.CAFile,
		OAuth2: &OAuth2{TokenURL: s.TokenURL, ClientID: scimtest.ClientID, ClientSecret: "nope-s3cr3t"}})
	if err == nil || strings.Contains(err.Error(), "nope-s3cr3t") {
		t.Errorf("open with a bad client secret: err = %v, want an error that does not show the secret", err)
	}
	// A wrong secret stays wrong: not worth a retry.
	if !errors.Is(err, connectors.ErrTerminal) {
		t.Errorf("bad client secret: err = %v, want ErrTerminal", err)
	}
}
