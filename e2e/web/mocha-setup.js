// What the WebSDK's test/test.html sets up before a suite (mocha, chai, sOptions, the display
// helpers the suites call), with sOptions.urlServer from ?ws=: shared by mocha.html and sip-mocha.html.
mocha.setup('bdd');
mocha.reporter('html');
var expect = chai.expect;
var sOptions = {urlServer: new URLSearchParams(location.search).get("ws")};
var initOptions = {
    flashMediaProviderSwfLocation: "../media-provider.swf",
    screenSharingExtensionId: "nlbaajplpmleofphigmgaifhoikjmbkg"
};

//display helpers (as in test/test.html)
function addDisplay(width, height) {
    if (!width) {
        width = 320;
    }
    if (!height) {
        height = 240;
    }
    var display = document.createElement("div");
    display.setAttribute("style","width:" + width + "px; height:" + height + "px; border: solid; border-width: 1px");
    document.body.insertBefore(display, document.body.firstChild);
    return display;
}
function removeDisplay(display) {
    document.body.removeChild(display);
}
