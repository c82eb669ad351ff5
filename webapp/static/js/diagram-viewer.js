/* Shared by the diagram pages (patient pathway, studio version, differences, cohort): opens the vendored bpmn-js
 * navigated viewer in a container, loads the JSON document at the container's data-src ({"xml": "...", ...}),
 * fits the diagram, then hands (viewer, data) to the page's own script. A failure sets data-error on the
 * container and shows its data-error-text. Loaded as a file (the CSP allows no inline script). */
(function () {
  "use strict";
  function fail(container, reason) {
    container.setAttribute("data-error", String(reason));
    var note = document.createElement("p");
    note.className = "diagram-error";
    note.textContent = container.getAttribute("data-error-text") || String(reason);
    container.appendChild(note);
  }
  function open(containerId, onLoaded) {
    var container = document.getElementById(containerId);
    if (!container || !container.getAttribute("data-src")) {
      return;
    }
    if (typeof window.BpmnJS !== "function") {
      fail(container, "bpmn-js not loaded");
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
        viewer.get("canvas").zoom("fit-viewport");
        onLoaded(container, viewer, data);
      })
      .catch(function (error) { fail(container, error && error.message ? error.message : error); });
  }
  window.ParcoursDiagram = { open: open };
}());
