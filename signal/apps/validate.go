package apps

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/potok-media/potok/api/rest"
)

// MaxKeyLen bounds an appKey: it is a KV key, a metric label value and a log field.
const MaxKeyLen = 128

// invalid is an error wrapping rest.ErrInvalid (the REST API answers it 400) with the reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", rest.ErrInvalid, fmt.Sprintf(format, args...))
}

// Normalize checks app and returns it as the registry stores it: methods (and the keys of
// Defaults) under the names WCS posts, aliases resolved, without duplicates, sorted. What is
// wrong is an error wrapping rest.ErrInvalid that says what and why.
func Normalize(app rest.App) (rest.App, error) {
	if err := checkKey(app.Key); err != nil {
		return app, err
	}
	if err := checkURL(app.URL); err != nil {
		return app, err
	}
	out := app
	out.Methods = make([]string, 0, len(app.Methods))
	for _, m := range app.Methods {
		c, ok := CanonicalMethod(m)
		if !ok {
			return app, invalid("app %s: unknown hook method %q (known: %s)", app.Key, m, strings.Join(knownMethods(), ", "))
		}
		out.Methods = append(out.Methods, c)
	}
	slices.Sort(out.Methods)
	out.Methods = slices.Compact(out.Methods)
	if app.Defaults != nil {
		out.Defaults = make(map[string]rest.MethodConfig, len(app.Defaults))
		for _, m := range slices.Sorted(maps.Keys(app.Defaults)) {
			c, ok := CanonicalMethod(m)
			if !ok {
				return app, invalid("app %s: defaults: unknown hook method %q", app.Key, m)
			}
			if err := checkMethodConfig(app.Key, m, app.Defaults[m]); err != nil {
				return app, err
			}
			out.Defaults[c] = app.Defaults[m]
		}
	}
	return out, nil
}

// checkKey: an appKey is a JetStream KV key, so it is kept to what every KV key may be.
func checkKey(key string) error {
	switch {
	case key == "":
		return invalid("appKey is empty")
	case len(key) > MaxKeyLen:
		return invalid("appKey is %d bytes long, at most %d are allowed", len(key), MaxKeyLen)
	case strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") || strings.Contains(key, ".."):
		return invalid("appKey %q: a '.' may not begin or end it nor follow another", key)
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return invalid("appKey %q: only letters, digits, '_', '.' and '-' are allowed", key)
		}
	}
	return nil
}

// checkURL: hooks off, the in-process echo backend, or a backend to POST to.
func checkURL(s string) error {
	if s == "" || s == rest.EchoURL {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return invalid("url %q: must be empty (hooks off), %q (the built-in echo backend) or an absolute http:// or https:// URL", s, rest.EchoURL)
	}
	return nil
}

// checkMethodConfig checks the words of one restClientConfig entry (§F.6); WCS accepts DISABLED
// beside DISABLE.
func checkMethodConfig(key, method string, c rest.MethodConfig) error {
	switch c.RestOnError {
	case "", "LOG", "FAIL":
	default:
		return invalid("app %s: defaults %s: restOnError %q: LOG or FAIL", key, method, c.RestOnError)
	}
	switch c.RestPolicy {
	case "", "NOTIFY", "OVERWRITE", "DISABLE", "DISABLED":
	default:
		return invalid("app %s: defaults %s: restPolicy %q: NOTIFY, OVERWRITE or DISABLE", key, method, c.RestPolicy)
	}
	return nil
}

// knownMethods lists every accepted method name, sorted, for error messages.
func knownMethods() []string { return AllMethods() }
