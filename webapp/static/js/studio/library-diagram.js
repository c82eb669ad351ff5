/* The studio library's diagrams: the vendored bpmn-js navigated viewer, with named markers. Loaded as a file
 * (the CSP allows no inline script). Reads data-src on #diagram: a JSON document
 * {"xml": "...", "markers": {"<css class>": ["element id", ...], ...}} — each element gets its marker's class.
 * Sets data-markers-ready="1" on #diagram once drawn (browser tests wait for it). */
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
      Object.keys(data.markers || {}).forEach(function (marker) {
        if (!/^[a-z][a-z0-9-]*$/.test(marker)) {
          return;
        }
        (data.markers[marker] || []).forEach(function (id) {
          if (registry.get(id)) {
            canvas.addMarker(id, marker);
          }
        });
      });
      container.setAttribute("data-markers-ready", "1");
    })
    .catch(fail);
}());
