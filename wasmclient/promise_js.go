//go:build js

package wasmclient

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// await waits for a JavaScript promise. Call it from a goroutine, never from inside a js.FuncOf
// callback: the promise settles on the event loop, which a blocked callback holds.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var then, catch js.Func
	release := func() { then.Release(); catch.Release() }
	// The callbacks release themselves: after a ctx timeout the promise may still settle.
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: arg0(args)}
		release()
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: jsError(arg0(args))}
		release()
		return nil
	})
	p.Call("then", then, catch)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// ErrBrowser is wrapped by errors a browser API threw or rejected with (NotAllowedError,
// NotFoundError, InvalidStateError, …); the text is the DOMException's name and message.
var ErrBrowser = errors.New("wasmclient: browser")

func jsError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("name").Type() == js.TypeString {
		return fmt.Errorf("%w: %s: %s", ErrBrowser, v.Get("name").String(), v.Get("message").String())
	}
	return fmt.Errorf("%w: %s", ErrBrowser, js.Global().Get("String").Invoke(v).String())
}

// call invokes a method that may throw synchronously, turning the exception into an error.
func call(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = jsError(je.Value)
				return
			}
			err = fmt.Errorf("%w: %s: %v", ErrBrowser, method, r)
		}
	}()
	return v.Call(method, args...), nil
}
