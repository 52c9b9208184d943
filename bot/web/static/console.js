// Staff console: keep an open conversation's transcript fresh (server-rendered, escaped HTML).
(function () {
  "use strict";
  var box = document.getElementById("transcript");
  if (!box || !box.dataset.src) return;
  function scrollDown() {
    var list = box.querySelector("ol.transcript");
    if (list) list.scrollTop = list.scrollHeight;
  }
  scrollDown();
  function refresh() {
    fetch(box.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var list = box.querySelector("ol.transcript");
        var atBottom = !list || list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
        box.innerHTML = html;
        if (atBottom) scrollDown();
      })
      .catch(function () {});
  }
  setInterval(refresh, 3000);
})();
