package restapi

import (
	"context"
	"slices"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/hooks"
)

// Application endpoints: what WCS manages with its CLI (add app, update app, add
// app-rest-method …, docs/protocol.md §F), over the REST API. The app registry is cluster-wide;
// the Backend changes it atomically.

func appFindAll(ctx context.Context, b Backend, _ []byte) (any, error) {
	apps, err := b.Apps(ctx)
	if err != nil {
		return nil, err
	}
	if apps == nil {
		apps = []rest.App{} // an array, never null
	}
	return apps, nil
}

func appFind(ctx context.Context, b Backend, body []byte) (any, error) {
	key, err := decodeAppKey(body)
	if err != nil {
		return nil, err
	}
	app, err := b.App(ctx, key)
	if err != nil {
		return nil, err
	}
	return app, nil
}

func appAdd(ctx context.Context, b Backend, body []byte) (any, error) {
	app, err := decodeApp(body)
	if err != nil {
		return nil, err
	}
	return nil, b.AddApp(ctx, app)
}

// appUpdate replaces the app named by appKey with the body, whole: what the body leaves out
// becomes empty, except restPassword, which the REST API never hands out (app/find blanks it):
// absent, the stored one stays, so that reading an app and sending it back keeps its credentials.
func appUpdate(ctx context.Context, b Backend, body []byte) (any, error) {
	app, err := decodeApp(body)
	if err != nil {
		return nil, err
	}
	return nil, b.UpdateApp(ctx, app.Key, func(a *rest.App) error {
		if app.RestPassword == "" && app.RestUsername != "" {
			app.RestPassword = a.RestPassword
		}
		*a = app
		return nil
	})
}

func appRemove(ctx context.Context, b Backend, body []byte) (any, error) {
	key, err := decodeAppKey(body)
	if err != nil {
		return nil, err
	}
	return nil, b.RemoveApp(ctx, key)
}

// appMethodAdd enables hook methods for an app (WCS add app-rest-method; all = -a, every method
// signal/hooks knows). Names are stored as WCS posts them (sendDtmf → sendDTMF).
func appMethodAdd(ctx context.Context, b Backend, body []byte) (any, error) {
	am, err := decodeAppMethods(body, false)
	if err != nil {
		return nil, err
	}
	add := am.Methods
	if am.All {
		add = hooks.AllMethods()
	}
	return nil, b.UpdateApp(ctx, am.AppKey, func(a *rest.App) error {
		methods := slices.Clone(a.Methods) // a's slice may be shared with the caller's copy
		for _, m := range add {
			if !slices.Contains(methods, m) {
				methods = append(methods, m)
			}
		}
		a.Methods = methods
		return nil
	})
}

// appMethodRemove disables hook methods for an app (WCS remove app-rest-method; all = -a). A
// method the app did not have is no error: the result is what the caller asked for.
func appMethodRemove(ctx context.Context, b Backend, body []byte) (any, error) {
	am, err := decodeAppMethods(body, true)
	if err != nil {
		return nil, err
	}
	return nil, b.UpdateApp(ctx, am.AppKey, func(a *rest.App) error {
		if am.All {
			a.Methods = []string{}
			return nil
		}
		a.Methods = slices.DeleteFunc(slices.Clone(a.Methods), func(m string) bool {
			return hooks.Enabled(am.Methods, m)
		})
		return nil
	})
}
