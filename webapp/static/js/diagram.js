/* A pathway's diagram with its steps marked (the patient's pathway page, a version in the studio). Reads, through
 * diagram-viewer.js, the JSON document at #diagram's data-src:
 * {"xml": "...", "markers": {"done": [...], "active": [...], "waiting": [...], "overdue": [...]}}.
 * Sets data-markers-ready="1" on #diagram once the markers are drawn (browser tests wait for it). */
(function () {
  "use strict";
  window.ParcoursDiagram.open("diagram", function (container, viewer, data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    ["done", "active", "waiting", "overdue"].forEach(function (kind) {
      ((data.markers || {})[kind] || []).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, "step-" + kind);
        }
      });
    });
    container.setAttribute("data-markers-ready", "1");
  });
}());
