/* Live notifications: join this user's Socket.IO room; each push bumps the header badge
   and is announced (role=status). The list itself is always read from the server
   (/notifications/), so a missed push only delays the badge until the next page. */
(function () {
  "use strict";
  var badge = document.getElementById("notify-count");
  if (!badge || typeof window.io !== "function") { return; }

  function show(count) {
    badge.setAttribute("data-count", String(count));
    badge.textContent = String(count);
    if (count > 0) { badge.removeAttribute("hidden"); } else { badge.setAttribute("hidden", ""); }
  }

  var socket = window.io({ transports: ["websocket", "polling"] });
  socket.on("notification", function (note) {
    show((parseInt(badge.getAttribute("data-count"), 10) || 0) + 1);
    if (window.dx && typeof window.dx.message === "function") {
      window.dx.message("新通知：" + note.text, "info");
    }
  });
  window.dxNotifications = { socket: socket, show: show };
})();
