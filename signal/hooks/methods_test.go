package hooks

import (
	"slices"
	"testing"
)

func TestMethodCatalogue(t *testing.T) {
	all := AllMethods()
	if len(all) != 27 || !slices.IsSorted(all) {
		t.Fatalf("AllMethods() = %v: want the 27 methods, sorted", all)
	}
	for _, tc := range []struct {
		method string
		kind   MethodKind
	}{
		{Connect, KindConnect},
		{PublishStream, KindDirect}, {PlayStream, KindDirect}, {UnPublishStream, KindDirect}, {StopStream, KindDirect},
		{OnDataEvent, KindDirect}, {"sendData", KindDirect}, {SendStreamEvent, KindDirect},
		{Call, KindDirect}, {"sendDtmf", KindDirect},
		{StreamStatusEvent, KindEvent}, {StreamKeepAliveEvent, KindEvent}, {ConnectionStatusEvent, KindEvent},
		{DataStatusEvent, KindEvent}, {StreamEvent, KindEvent}, {ErrorEvent, KindEvent}, {CallStatusEvent, KindEvent},
		{TransferStatusEvent, KindEvent}, {Transfer, KindDirect},
		{SendMessage, KindDirect}, {MessageStatusEvent, KindEvent}, {OnMessageEvent, KindIncoming},
		{OnCallEvent, KindIncoming},
		{"noSuchHook", KindEvent}, // an unknown method can never block anything
	} {
		if got := Kind(tc.method); got != tc.kind {
			t.Errorf("Kind(%q) = %s, want %s", tc.method, got, tc.kind)
		}
	}
}

func TestNormalizeAndEnabled(t *testing.T) {
	for in, want := range map[string]string{"sendDtmf": SendDTMF, "sendData": OnDataEvent, SendDTMF: SendDTMF,
		"PublishStream": "PublishStream", "": ""} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if !Enabled([]string{"sendDtmf"}, SendDTMF) || !Enabled([]string{OnDataEvent}, "sendData") {
		t.Error("an alias in app methods does not enable its method")
	}
	if Enabled(nil, Connect) || Enabled([]string{"Connect"}, Connect) {
		t.Error("method names must match exactly")
	}
	if !Known("sendData") || Known("fooBar") {
		t.Error("Known")
	}
	if label("fooBar") != "other" || label(Connect) != Connect {
		t.Error("label")
	}
}
