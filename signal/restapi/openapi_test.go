package restapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

// servedPaths is every path the REST API answers, from the route table: the document must list
// exactly these.
func servedPaths() []string {
	paths := []string{"/"} // the statistics page
	for _, rt := range routes {
		paths = append(paths, Prefix+rt.path[1:])
	}
	slices.Sort(paths)
	return paths
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json is OpenAPI %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for p := range doc.Paths {
		documented = append(documented, p)
	}
	slices.Sort(documented)
	served := servedPaths()
	for _, p := range served {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("%s is served but not in openapi.json", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("%s is in openapi.json but not served", p)
		}
	}
	for _, rt := range routes {
		ops := doc.Paths[Prefix+rt.path[1:]]
		if rt.static {
			continue
		}
		for _, method := range []string{"get", "post"} {
			op, ok := ops[method]
			switch {
			case !ok:
				t.Errorf("%s: no %s operation (every endpoint takes GET and POST)", rt.path, method)
			case rt.serve == nil && op.Responses["501"] == nil:
				t.Errorf("%s %s: a missing feature without its 501", rt.path, method)
			case rt.serve != nil && op.Responses["200"] == nil:
				t.Errorf("%s %s: no 200", rt.path, method)
			}
		}
	}
	for _, f := range families {
		if !slices.ContainsFunc(routes, func(rt route) bool { return strings.HasPrefix(rt.path, f.prefix) }) {
			t.Errorf("family %s has no documented path", f.prefix)
		}
	}
}

// Every $ref points at a component that exists, and operation ids are unique.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var tree map[string]any
	if err := json.Unmarshal(openAPIDocument, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !resolves(tree, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(tree)
	ids := map[string]string{}
	for path, ops := range loadOpenAPI(t).Paths {
		for method, op := range ops {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s of %s %s is also %s's", op.OperationID, method, path, prev)
			}
			ids[op.OperationID] = method + " " + path
		}
	}
}

func resolves(tree map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = tree
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func TestOpenAPIIsServed(t *testing.T) {
	a := do(t, newMux(t, Options{}), "GET", OpenAPIPath, "")
	if a.code != 200 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q", a.code, a.header.Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(a.body, &doc); err != nil || len(doc.Paths) != len(servedPaths()) {
		t.Errorf("served document: %d paths, %v", len(doc.Paths), err)
	}
}
