/* The cohort of a pathway version on its diagram, like a cockpit: bpmn-js navigated viewer (vendored) with, on
 * each element where instances wait, a badge "N en attente / M en retard" linking to the patients there.
 * Loaded as a file after diagram-viewer.js. Reads on #cohort-diagram: data-src (a JSON document
 * {"xml": "...", "counts": {"<element id>": {"waiting": N, "overdue": M, "errors": K}}}), data-element-url
 * (with __ELEMENT__ for the element id) and the badge labels (data-label-*). Sets data-badges-ready="1" on
 * #cohort-diagram once the badges are drawn (browser tests wait for it). */
(function () {
  "use strict";
  var container = document.getElementById("cohort-diagram");
  if (!container) {
    return;
  }
  function label(name) {
    return container.getAttribute("data-label-" + name) || name;
  }
  function badge(elementId, count) {
    var link = document.createElement("a");
    link.className = "cohort-badge" + (count.overdue ? " has-overdue" : "") + (count.errors ? " has-errors" : "");
    link.href = container.getAttribute("data-element-url").replace("__ELEMENT__", encodeURIComponent(elementId));
    link.setAttribute("data-element-id", elementId);
    link.setAttribute("data-waiting", String(count.waiting));
    link.setAttribute("data-overdue", String(count.overdue));
    var text = count.waiting + " " + label("waiting") + " / " + count.overdue + " " + label("overdue");
    if (count.errors) {
      text += " · " + count.errors + " " + label("errors");
    }
    link.textContent = text;
    link.title = text;
    return link;
  }
  window.ParcoursDiagram.open("cohort-diagram", function (_container, viewer, data) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    Object.keys(data.counts || {}).forEach(function (id) {
      if (!registry.get(id)) {
        return;
      }
      var count = data.counts[id];
      canvas.addMarker(id, count.overdue || count.errors ? "cohort-late" : "cohort-waiting");
      overlays.add(id, "cohort", { position: { bottom: 4, left: 0 }, html: badge(id, count) });
    });
    container.setAttribute("data-badges-ready", "1");
  });
}());
