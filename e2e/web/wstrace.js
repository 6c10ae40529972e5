// Opt-in (?trace=1, POTOK_E2E_TRACE=1): logs every signalling frame to the console as "ws> " (sent) and
// "ws< " (received), for message traces in failure reports. It wraps window.WebSocket before the SDK
// loads and changes nothing else: the SDK still talks to a native WebSocket.
(function () {
    "use strict";
    var Native = window.WebSocket;
    var t0 = performance.now();
    function text(d) {
        var s = typeof d === "string" ? d : "[binary " + (d.byteLength || d.size || 0) + " bytes]";
        // SDP bodies are long: keep their first line only.
        s = s.replace(/(v=0)(\\r\\n[^"]*)/g, "$1\\r\\n...");
        return s.length > 1500 ? s.slice(0, 1500) + "..." : s;
    }
    function ms() { return "+" + Math.round(performance.now() - t0) + "ms "; }
    function Traced(url, protocols) {
        var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
        var send = ws.send;
        ws.send = function (d) {
            console.log(ms() + "ws> " + url + " " + text(d));
            return send.call(ws, d);
        };
        ws.addEventListener("open", function () { console.log(ms() + "ws open " + url); });
        ws.addEventListener("message", function (e) { console.log(ms() + "ws< " + url + " " + text(e.data)); });
        ws.addEventListener("close", function (e) {
            console.log(ms() + "ws closed " + url + " code=" + e.code + " reason=" + e.reason);
        });
        return ws;
    }
    Traced.prototype = Native.prototype;
    ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Traced[k] = Native[k]; });
    window.WebSocket = Traced;
})();
