/* The patient record's pathway diagram: bpmn-js navigated viewer (vendored) + the instance's step markers.
 * Loaded as a file (the CSP allows no inline script). Reads data-src on #diagram: a JSON document
 * {"xml": "...", "markers": {"done": [...], "active": [...], "waiting": [...], "overdue": [...]}}.
 * Sets data-markers-ready="1" on #diagram once the markers are drawn (browser tests wait for it). */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || !container.getAttribute("data-src")) {
    return;
  }
  function fail(reason) {
    container.setAttribute("data-error", String(reason));
    var note = document.createElement("p");
    note.className = "diagram-error";
    note.textContent = container.getAttribute("data-error-text") || String(reason);
    container.appendChild(note);
  }
  if (typeof window.BpmnJS !== "function") {
    fail("bpmn-js not loaded");
    return;
  }
  var viewer = new window.BpmnJS({ container: container });
  fetch(container.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(function (data) {
      return viewer.importXML(data.xml).then(function () { return data; });
    })
    .then(function (data) {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      ["done", "active", "waiting", "overdue"].forEach(function (kind) {
        (data.markers[kind] || []).forEach(function (id) {
          if (registry.get(id)) {
            canvas.addMarker(id, "step-" + kind);
          }
        });
      });
      container.setAttribute("data-markers-ready", "1");
    })
    .catch(fail);
}());
