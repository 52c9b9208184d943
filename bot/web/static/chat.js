// Resident web chat: the rasa-webchat widget (served locally), talking to Rasa's socket.io channel.
// The session id and the conversation are kept in localStorage, so a reload keeps the conversation.
(function () {
  "use strict";
  var el = document.getElementById("webchat");
  if (!el || !window.WebChat) return;
  var socketUrl = el.dataset.socketUrl || window.location.origin;
  var english = (navigator.language || "").toLowerCase().indexOf("en") === 0;
  window.WebChat.default({
    socketUrl: socketUrl,
    socketPath: el.dataset.socketPath || "/socket.io/",
    initPayload: "/greet",
    title: english ? "Community service" : "社区服务",
    subtitle: english ? "Complaints, repairs, questions" : "投诉 · 报修 · 咨询",
    inputTextFieldHint: english ? "Type a message…" : "请输入您的问题…",
    connectingText: english ? "Connecting…" : "正在连接…",
    embedded: true,
    showFullScreenButton: false,
    showMessageDate: true,
    // The widget "types" each bot message for up to 3 s by default; answers should come at once.
    customMessageDelay: function () { return 300; },
    params: { storage: "local" }
  }, el);
})();
