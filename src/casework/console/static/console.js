// Casework console: a case page asks for new communications every few seconds and appends
// them, so a customer's reply shows up without a reload. No framework, nothing remote.
(function () {
  "use strict";
  var thread = document.getElementById("thread");
  if (!thread) { return; }
  var url = thread.getAttribute("data-updates");
  var every = (parseInt(thread.getAttribute("data-poll-seconds"), 10) || 5) * 1000;
  var statusBadge = document.getElementById("case-status");

  function lastSeq() {
    var items = thread.querySelectorAll("[data-seq]");
    return items.length ? items[items.length - 1].getAttribute("data-seq") : "0";
  }

  function poll() {
    fetch(url + "?after=" + encodeURIComponent(lastSeq()), {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        var status = response.headers.get("X-Case-Status");
        if (status && statusBadge && statusBadge.textContent !== status) {
          statusBadge.textContent = status;
          statusBadge.className = "badge status-" + status;
        }
        return response.text();
      })
      .then(function (html) {
        if (html.trim()) {
          var holder = document.createElement("div");
          holder.innerHTML = html;  // server-rendered and escaped by the template
          while (holder.firstElementChild) {
            var item = holder.firstElementChild;
            if (document.getElementById(item.id)) { holder.removeChild(item); continue; }
            thread.appendChild(item);
          }
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
