/* The studio's differences between two versions, on the newer diagram: named markers. Reads, through
 * diagram-viewer.js, the JSON document at #diagram's data-src:
 * {"xml": "...", "markers": {"<css class>": ["element id", ...], ...}} — each element gets its marker's class.
 * Sets data-markers-ready="1" on #diagram once drawn (browser tests wait for it). */
(function () {
  "use strict";
  window.ParcoursDiagram.open("diagram", function (container, viewer, data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
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
  });
}());
