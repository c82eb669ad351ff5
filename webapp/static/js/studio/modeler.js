/* The studio's draft editor: the bpmn-js Modeler (vendored production build) with the spiffworkflow moddle
 * extension and the Parcours properties panel; save (optimistic revision, 409 keeps the diagram), validate
 * (every problem marked on its element with a message beside it, and listed), deploy (saves first).
 * Data come from <script type="application/json" id="modeler-data"> and #modeler-strings (no inline script). */
(function () {
  "use strict";
  var dataNode = document.getElementById("modeler-data");
  var container = document.getElementById("canvas");
  if (!dataNode || !container) { return; }
  var data = JSON.parse(dataNode.textContent);
  var strings = JSON.parse(document.getElementById("modeler-strings").textContent);
  var csrf = document.getElementById("modeler").getAttribute("data-csrf");
  var studio = window.ParcoursStudio || {};
  var stateNode = document.getElementById("save-state");
  var messageNode = document.getElementById("editor-message");
  var problemsNode = document.getElementById("problems-list");
  var problemsSummary = document.getElementById("problems-summary");
  var readOnly = data.status !== "draft";

  function t(key) { return strings[key] || key; }
  function fail(reason) {
    container.setAttribute("data-error", String(reason));
    message(t("loadFailed") + " " + reason, "error");
  }
  function message(text, kind) {
    messageNode.textContent = text || "";
    messageNode.className = "editor-message" + (kind ? " editor-message-" + kind : "");
    messageNode.hidden = !text;
  }
  if (typeof window.BpmnJS !== "function") { fail("bpmn-js"); return; }

  var forms = {};
  Object.keys(data.forms || {}).forEach(function (key) {
    var value = data.forms[key];
    forms[key] = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  });
  var revision = data.revision;
  var dirty = false;
  var busy = false;

  var modeler = new window.BpmnJS({
    container: container,
    moddleExtensions: { spiffworkflow: studio.spiffModdle },
    additionalModules: [studio.multiCommandModule]
  });
  var canvas = modeler.get("canvas");
  var registry = modeler.get("elementRegistry");
  var overlays = modeler.get("overlays");

  function setState(state) {
    stateNode.setAttribute("data-state", state);
    stateNode.textContent = t("state." + state);
    document.getElementById("save").disabled = readOnly || busy || state === "saved";
  }
  function changed() {
    if (!dirty) { dirty = true; }
    setState("unsaved");
    if (problemsNode.childElementCount) { problemsSummary.setAttribute("data-stale", "1"); }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, ok: response.ok, body: json };
      });
    });
  }

  function currentXml() { return modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); }

  function save() {
    if (readOnly || busy) { return Promise.resolve(false); }
    busy = true;
    setState("saving");
    return currentXml().then(function (xml) {
      return post(data.urls.save, { xml: xml, forms: forms, revision: revision });
    }).then(function (answer) {
      busy = false;
      if (answer.ok) {
        revision = answer.body.revision;
        dirty = false;
        setState("saved");
        document.getElementById("draft-title").textContent = answer.body.title;
        document.getElementById("draft-key").textContent = answer.body.key;
        message("");
        return true;
      }
      setState("unsaved");
      if (answer.status === 409) {
        message(t("conflict") + " " + (answer.body.detail || ""), "error");
      } else {
        message(t("saveFailed") + " " + (answer.body.detail || answer.status), "error");
      }
      return false;
    }).catch(function (error) {
      busy = false;
      setState("unsaved");
      message(t("saveFailed") + " " + error, "error");
      return false;
    });
  }

  // -- problems on the diagram and in the list ------------------------------------------------------------
  var marked = [];
  function elementFor(elementId) {
    var found = registry.get(elementId);
    if (found) { return found; }
    return registry.filter(function (e) {
      return e.type === "bpmn:Participant" && e.businessObject.processRef && e.businessObject.processRef.id === elementId;
    })[0] || null;
  }
  function clearProblems() {
    marked.forEach(function (id) { if (registry.get(id)) { canvas.removeMarker(id, "has-problem"); } });
    marked = [];
    overlays.remove({ type: "parcours-problem" });
    problemsNode.textContent = "";
  }
  function showProblems(problems) {
    clearProblems();
    problemsSummary.removeAttribute("data-stale");
    var byElement = {};
    problems.forEach(function (problem) {
      var target = problem.element_id && problem.element_id !== "-" ? elementFor(problem.element_id) : null;
      var item = document.createElement("li");
      item.setAttribute("data-element-id", problem.element_id);
      if (target) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link problem-link";
        var name = target.businessObject.name ? target.businessObject.name + " — " : "";
        button.textContent = name + problem.element_id;
        button.addEventListener("click", function () {
          modeler.get("selection").select(target);
          if (canvas.zoom() < 0.8) { canvas.zoom(1); }
          canvas.scrollToElement(target, { top: 120, bottom: 120, left: 120, right: 120 });
        });
        item.appendChild(button);
        item.appendChild(document.createTextNode(" : " + problem.reason));
        (byElement[target.id] = byElement[target.id] || { target: target, reasons: [] }).reasons.push(problem.reason);
      } else {
        item.className = "problem-file";
        item.textContent = (problem.element_id && problem.element_id !== "-" ? problem.element_id + " : " : "") + problem.reason;
      }
      problemsNode.appendChild(item);
    });
    Object.keys(byElement).forEach(function (id) {
      var entry = byElement[id];
      canvas.addMarker(id, "has-problem");
      marked.push(id);
      var note = document.createElement("div");
      note.className = "problem-note";
      note.setAttribute("data-element-id", id);
      note.textContent = entry.reasons.join(" · ");
      var position = entry.target.waypoints ? { top: 0, left: 0 } : { top: (entry.target.height || 0) + 6, left: 0 };
      overlays.add(id, "parcours-problem", { position: position, html: note });
    });
    problemsSummary.textContent = problems.length ? t("problems.count").replace("{n}", problems.length) : t("problems.none");
    problemsSummary.setAttribute("data-count", String(problems.length));
  }

  function validate() {
    problemsSummary.textContent = t("validating");
    return currentXml().then(function (xml) {
      return post(data.urls.validate, { xml: xml, forms: forms });
    }).then(function (answer) {
      if (!answer.ok) {
        problemsSummary.textContent = t("validateFailed") + " " + (answer.body.detail || answer.status);
        return;
      }
      showProblems(answer.body.problems);
    });
  }

  // -- wiring -----------------------------------------------------------------------------------------------
  modeler.importXML(data.xml).then(function (result) {
    canvas.zoom("fit-viewport");
    var warnings = (result.warnings || []).map(function (w) { return w.message; });
    if (warnings.length) {
      var list = document.getElementById("import-warnings");
      list.hidden = false;
      warnings.forEach(function (w) {
        var item = document.createElement("li");
        item.textContent = w;
        list.querySelector("ul").appendChild(item);
      });
    }
    new studio.PropertiesPanel(document.getElementById("properties"), modeler, {
      roles: data.roles, templates: data.templates, forms: forms, strings: strings, previewUrl: data.urls.preview,
      csrf: csrf, onFormsChanged: changed
    }).show(null);
    modeler.get("eventBus").on("commandStack.changed", changed);
    setState("saved");
    container.setAttribute("data-ready", "1");
  }).catch(function (error) { fail(error && error.message ? error.message : error); });

  document.getElementById("save").addEventListener("click", function () { save(); });
  document.getElementById("validate").addEventListener("click", function () { validate(); });
  document.getElementById("undo").addEventListener("click", function () { modeler.get("commandStack").undo(); });
  document.getElementById("redo").addEventListener("click", function () { modeler.get("commandStack").redo(); });
  document.getElementById("deploy").addEventListener("click", function (event) {
    if (!dirty) { return; }
    event.preventDefault();
    var href = event.currentTarget.getAttribute("href");
    save().then(function (ok) { if (ok) { window.location.assign(href); } });
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
}());
