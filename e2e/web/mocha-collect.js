// Runs mocha and collects each test's result into window.__result for the Go test (e2e
// websdk_test.go, sip_test.go): load it after the suite.
(function () {
    var t0 = performance.now();
    var result = window.__result = {done: false, tests: [], failures: []};
    function ms() { return Math.round(performance.now() - t0); }
    var runner = mocha.run();
    var started = {};
    runner.on('test', function (test) {
        started[test.fullTitle()] = ms();
    });
    runner.on('pass', function (test) {
        result.tests.push({title: test.title, fullTitle: test.fullTitle(), state: 'passed',
            ms: test.duration || 0, at: ms()});
    });
    // 'fail' fires for tests and for hooks ("before all" hook ...); a hook failure skips its tests.
    runner.on('fail', function (runnable, err) {
        var entry = {title: runnable.title, fullTitle: runnable.fullTitle(), state: 'failed',
            type: runnable.type, error: String(err && (err.message || err)), at: ms()};
        if (runnable.type === 'test') {
            var s = started[runnable.fullTitle()];
            entry.ms = s === undefined ? 0 : ms() - s;
            result.tests.push(entry);
        } else {
            result.failures.push(entry);
        }
    });
    runner.on('end', function () {
        result.total = runner.total;
        result.done = true;
        result.ms = ms();
    });
})();
