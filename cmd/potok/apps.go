package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/apps"
)

const appsUsage = `potok apps — the applications of a running cluster (WCS's "add app", "show apps", …)

Usage:
  potok apps list                                  every app, as a table
  potok apps show KEY                              one app
  potok apps add KEY --url URL [--methods a,b | --all-methods] [--name N]
                 [--rest-user U --rest-password P] add an app (URL "" = hooks off, "echo:" = the echo backend)
  potok apps remove KEY                            remove an app
  potok apps set-url KEY URL                       change the hook base URL of an app
  potok apps enable KEY METHOD... | --all          call these hook methods for the app
  potok apps disable KEY METHOD... | --all         stop calling them (skipped as approved)

It talks to the management REST API of any signal node: --rest, with --user/--password when
that node requires authentication (--rest-auth).

Flags:
`

// appsCommand manages the cluster's apps through the REST API's /app endpoints.
func appsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCLIFlags("potok apps", appsUsage, stderr)
	c := &restClient{http: &http.Client{Timeout: 15 * time.Second}}
	fs.StringVar(&c.base, "rest", envOr("POTOK_REST_URL", "http://127.0.0.1:8081"), "base URL of a signal node's REST API (env POTOK_REST_URL)")
	fs.StringVar(&c.user, "user", envOr("POTOK_REST_USER", ""), "REST API user (env POTOK_REST_USER)")
	fs.StringVar(&c.password, "password", envOr("POTOK_REST_PASSWORD", ""), "REST API password (env POTOK_REST_PASSWORD; ps shows flags, prefer it)")
	asJSON := fs.Bool("json", false, "list, show: print JSON")
	var add rest.App
	fs.StringVar(&add.URL, "url", "", "add: the hook base URL")
	fs.StringVar(&add.Name, "name", "", "add: the app's name")
	methods := fs.String("methods", "", "add: comma-separated hook methods to call")
	allMethods := fs.Bool("all-methods", false, "add: call every hook method")
	fs.StringVar(&add.RestUsername, "rest-user", "", "add: HTTP Basic user on the app's hook requests")
	fs.StringVar(&add.RestPassword, "rest-password", "", "add: HTTP Basic password on the app's hook requests")
	all := fs.Bool("all", false, "enable, disable: every method")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("apps: a command is needed")
	}
	cmd, pos := pos[0], pos[1:]
	exactly := func(n int, usage string) error {
		if len(pos) != n {
			return fmt.Errorf("apps %s: usage: potok apps %s %s", cmd, cmd, usage)
		}
		return nil
	}
	switch cmd {
	case "list":
		var list []rest.App
		if err := c.call(ctx, "find_all", nil, &list); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		return printTable(stdout, list)
	case "show":
		if err := exactly(1, "KEY"); err != nil {
			return err
		}
		var app rest.App
		if err := c.call(ctx, "find", rest.AppKey{AppKey: pos[0]}, &app); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, app)
		}
		return printApp(stdout, app)
	case "add":
		if err := exactly(1, "KEY"); err != nil {
			return err
		}
		add.Key, add.Methods = pos[0], splitMethods(*methods)
		if *allMethods {
			add.Methods = apps.AllMethods()
		}
		return c.call(ctx, "add", add, nil)
	case "remove":
		if err := exactly(1, "KEY"); err != nil {
			return err
		}
		return c.call(ctx, "remove", rest.AppKey{AppKey: pos[0]}, nil)
	case "set-url":
		if err := exactly(2, "KEY URL"); err != nil {
			return err
		}
		var app rest.App
		if err := c.call(ctx, "find", rest.AppKey{AppKey: pos[0]}, &app); err != nil {
			return err
		}
		app.URL = pos[1]
		return c.call(ctx, "update", app, nil)
	case "enable", "disable":
		if len(pos) == 0 || len(pos) == 1 && !*all || len(pos) > 1 && *all {
			return fmt.Errorf("apps %s: usage: potok apps %s KEY METHOD... or potok apps %s KEY --all", cmd, cmd, cmd)
		}
		endpoint := map[string]string{"enable": "method/add", "disable": "method/remove"}[cmd]
		return c.call(ctx, endpoint, rest.AppMethods{AppKey: pos[0], Methods: splitMethods(strings.Join(pos[1:], ",")), All: *all}, nil)
	}
	fs.Usage()
	return fmt.Errorf("apps: unknown command %q", cmd)
}

// splitMethods splits a comma-separated method list (spaces allowed); "" is none.
func splitMethods(s string) []string {
	out := []string{}
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable writes one aligned line per app: key, URL, methods.
func printTable(w io.Writer, list []rest.App) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APPKEY\tURL\tMETHODS")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Key, showURL(a.URL), showMethods(a.Methods))
	}
	return tw.Flush()
}

// printApp writes one app, a field a line.
func printApp(w io.Writer, a rest.App) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "appKey:\t%s\n", a.Key)
	if a.Name != "" {
		fmt.Fprintf(tw, "name:\t%s\n", a.Name)
	}
	fmt.Fprintf(tw, "url:\t%s\n", showURL(a.URL))
	fmt.Fprintf(tw, "methods:\t%s\n", showMethods(a.Methods))
	if a.RestUsername != "" {
		fmt.Fprintf(tw, "restUsername:\t%s\n", a.RestUsername)
	}
	for _, m := range slices.Sorted(maps.Keys(a.Defaults)) {
		b, _ := json.Marshal(a.Defaults[m])
		fmt.Fprintf(tw, "defaults %s:\t%s\n", m, b)
	}
	return tw.Flush()
}

func showURL(u string) string {
	switch u {
	case "":
		return "(hooks off)"
	case rest.EchoURL:
		return rest.EchoURL + " (echo backend)"
	}
	return u
}

func showMethods(m []string) string {
	switch {
	case len(m) == 0:
		return "(none)"
	case slices.Equal(m, apps.AllMethods()):
		return "(all) " + strings.Join(m, ",")
	}
	return strings.Join(m, ",")
}

// restClient calls one signal node's /rest-api/app endpoints.
type restClient struct {
	base, user, password string
	http                 *http.Client
}

// call POSTs in as JSON to /rest-api/app/<endpoint> and decodes a 200's body into out. Any
// other status is an error saying the API's reason.
func (c *restClient) call(ctx context.Context, endpoint string, in, out any) error {
	body := []byte("{}")
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	url := strings.TrimRight(c.base, "/") + "/rest-api/app/" + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("apps: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("apps: is a signal node's REST API at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("apps: %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("apps: %s answered what is no app: %w", url, err)
	}
	return nil
}

// apiError is the reason of an error answer ({"status":…,"reason":…}), or its HTTP status.
func apiError(resp *http.Response, body []byte) error {
	var e struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	reason := resp.Status
	if json.Unmarshal(body, &e) == nil && e.Reason != "" {
		reason = e.Reason
	}
	if resp.StatusCode == http.StatusUnauthorized {
		reason += " (give --user and --password, or POTOK_REST_USER and POTOK_REST_PASSWORD)"
	}
	return fmt.Errorf("apps: %s (HTTP %d)", reason, resp.StatusCode)
}
