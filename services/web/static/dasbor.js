// inovasi: the region dashboard's live figures. Follows the region's live feed
// (/daerah/{code}/langsung, Server-Sent Events from this site only) and updates the three
// figures, their categories and ranks in place; changes are announced politely to screen
// readers. The browser reconnects by itself with Last-Event-ID; after a refused or failed
// connection this script tries again a few times (sending the last id as ?setelah=).
// Without JavaScript the page shows the figures as they were when it was loaded.
(function () {
  "use strict";
  var section = document.querySelector("[data-live-url]");
  if (!section || !window.EventSource || !window.JSON) { return; }
  var url = section.getAttribute("data-live-url");
  var state = section.querySelector("[data-live-state]");
  var note = section.querySelector("[data-live-note]");
  var when = section.querySelector("[data-live-time]");
  var announcer = section.querySelector("[data-live-announcer]");
  var stale = document.querySelector("[data-live-stale]");
  var version = parseInt(section.getAttribute("data-version") || "0", 10);
  var lastId = null;
  var source = null;
  var failures = 0;
  var MAX_FAILURES = 6;

  function setState(kind, text) {
    if (state) { state.setAttribute("data-state", kind); }
    if (note) { note.textContent = text; }
  }

  function put(selector, value) {
    var element = section.querySelector(selector);
    if (!element || value === null || value === undefined || element.textContent === value) { return false; }
    element.textContent = value;
    return true;
  }

  function flash(figure) {
    var card = section.querySelector('[data-testid="figure-' + figure + '"]');
    if (!card) { return; }
    card.classList.remove("changed");
    void card.offsetWidth; // restart the highlight
    card.classList.add("changed");
    window.setTimeout(function () { card.classList.remove("changed"); }, 2000);
  }

  function ranks(figure) {
    put('[data-live-rank-type="' + figure.figure + '"]', figure.rank_type);
    put('[data-live-rank-province="' + figure.figure + '"]', figure.rank_province);
  }

  function onScore(data) {
    var said = [];
    data.figures.forEach(function (figure) {
      var moved = put('[data-figure="' + figure.figure + '"]', figure.iid);
      var badge = section.querySelector('[data-live-category="' + figure.figure + '"]');
      if (badge && badge.textContent !== figure.category_label) {
        badge.textContent = figure.category_label;
        badge.className = "badge badge-" + figure.category;
        moved = true;
      }
      ranks(figure);
      if (moved) {
        said.push(figure.label + " " + figure.iid + ", " + figure.category_label);
        flash(figure.figure);
      }
    });
    if (data.time && when) { when.textContent = "Dihitung " + data.time + "."; }
    if (said.length && announcer) { announcer.textContent = "Skor diperbarui. " + said.join("; ") + "."; }
    if (data.version !== version) {
      if (stale && data.version > version) { stale.hidden = false; }
      version = data.version;
    }
  }

  function handler(callback) {
    return function (event) {
      if (event.lastEventId) { lastId = event.lastEventId; }
      try { callback(JSON.parse(event.data)); } catch (error) { /* a malformed message: skip it */ }
    };
  }

  function connect() {
    source = new EventSource(lastId ? url + "?setelah=" + encodeURIComponent(lastId) : url);
    source.addEventListener("open", function () {
      failures = 0;
      setState("open", "Langsung: skor diperbarui otomatis tanpa memuat ulang.");
    });
    source.addEventListener("score", handler(onScore));
    source.addEventListener("ranks", handler(function (data) { data.figures.forEach(ranks); }));
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CONNECTING) {  // the browser retries by itself
        setState("connecting", "Menyambung ulang…");
        return;
      }
      source.close();
      failures += 1;
      if (failures >= MAX_FAILURES) {
        setState("closed", "Pembaruan langsung terhenti. Muat ulang halaman (mungkin perlu masuk lagi).");
        return;
      }
      setState("connecting", "Sambungan terputus; mencoba lagi…");
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, failures)));
    });
  }

  setState("connecting", "Menyambung ke pembaruan langsung…");
  connect();
})();
