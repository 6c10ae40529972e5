package apps

import (
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/hooks"
)

// The hook method names are signal/hooks' catalogue (docs/protocol.md §F.4), spelled as WCS posts
// them; this package only checks apps against it, so the two can never disagree.

// AllMethods returns every hook method, sorted: EchoApp's set, and what enabling every method of
// an app gives it (potok apps enable KEY --all, /app/method/add all:true), as WCS's
// "add app-rest-method -a".
func AllMethods() []string { return hooks.AllMethods() }

// CanonicalMethod returns the name WCS posts for method (an alias resolved) and whether it is a
// known method. Names are case-sensitive, as in WCS.
func CanonicalMethod(method string) (string, bool) {
	method = hooks.Normalize(method)
	return method, hooks.Known(method)
}

// Enabled reports whether app calls method's hook (an alias of method counts as method). A
// method not enabled is skipped as approved (§F.2).
func Enabled(app rest.App, method string) bool {
	method, _ = CanonicalMethod(method)
	for _, m := range app.Methods {
		if m == method {
			return true
		}
	}
	return false
}
