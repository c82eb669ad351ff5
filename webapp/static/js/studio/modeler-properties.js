/* The studio's properties panel (plain DOM, no bundler): what Parcours reads from a pathway, edited through
 * bpmn-js commands so that undo / redo work. Lane -> role, user task form / due / priority / escalate_after
 * (and the form's JSON Schema with a preview), send task recipient / channel / template / appointment,
 * timer definitions (anchor dates offered by name), conditions of the flows leaving a gateway, scripts,
 * and the pathway's anchors and parameters. Conventions: shared/DESIGN.md §3. */
(function () {
  "use strict";
  var SPIFF = "spiffworkflow:";
  var PRIORITIES = ["routine", "urgent", "asap", "stat"];
  var CHANNELS = ["preferred", "sms", "email"];
  var TIMER_KINDS = ["timeDate", "timeDuration", "timeCycle"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  /** Several bpmn-js commands as one undo step (executed from preExecute, as diagram-js allows). */
  function MultiCommandHandler(commandStack) { this._commandStack = commandStack; }
  MultiCommandHandler.$inject = ["commandStack"];
  MultiCommandHandler.prototype.preExecute = function (commands) {
    var stack = this._commandStack;
    commands.forEach(function (command) { stack.execute(command.cmd, command.context); });
  };
  function MultiCommandRegistration(commandStack) { commandStack.registerHandler("parcours.multi", MultiCommandHandler); }
  MultiCommandRegistration.$inject = ["commandStack"];
  var multiCommandModule = { __init__: ["parcoursMultiCommand"], parcoursMultiCommand: ["type", MultiCommandRegistration] };

  function Panel(container, modeler, options) {
    this.container = container;
    this.modeler = modeler;
    this.options = options;  // {roles, templates, forms (key -> text), strings, previewUrl, csrf, onFormsChanged}
    this.moddle = modeler.get("moddle");
    this.modeling = modeler.get("modeling");
    this.commandStack = modeler.get("commandStack");
    this.current = null;
    var self = this;
    var eventBus = modeler.get("eventBus");
    eventBus.on("selection.changed", function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    eventBus.on("elements.changed", function (event) {
      var current = self.current;
      if (current && event.elements.some(function (e) { return e === current || e.id === current.id; })) {
        self.show(modeler.get("elementRegistry").get(current.id) || null);
      }
    });
  }

  Panel.prototype.t = function (key) { return this.options.strings[key] || key; };

  Panel.prototype.run = function (commands) {
    if (!commands.length) { return; }
    if (commands.length === 1) { this.commandStack.execute(commands[0].cmd, commands[0].context); }
    else { this.commandStack.execute("parcours.multi", commands); }
  };

  function update(element, moddleElement, properties) {
    return { cmd: "element.updateModdleProperties",
             context: { element: element, moddleElement: moddleElement, properties: properties } };
  }

  // -- spiffworkflow:properties ---------------------------------------------------------------------------
  function spiffProperties(bo) {
    var values = (bo.extensionElements && bo.extensionElements.values) || [];
    return values.filter(function (v) { return v.$instanceOf && v.$instanceOf(SPIFF + "Properties"); })[0] || null;
  }
  function getProperty(bo, name) {
    var props = spiffProperties(bo);
    var found = props && (props.values || []).filter(function (p) { return p.name === name; })[0];
    return found ? (found.value || "") : "";
  }

  Panel.prototype.setProperty = function (element, bo, name, value) {
    var commands = [];
    var ext = bo.extensionElements;
    if (!ext) {
      if (value === "") { return; }
      ext = this.moddle.create("bpmn:ExtensionElements", { values: [] });
      commands.push(update(element, bo, { extensionElements: ext }));
    }
    var props = spiffProperties(bo);
    if (!props) {
      if (value === "") { return; }
      props = this.moddle.create(SPIFF + "Properties", { values: [] });
      commands.push(update(element, ext, { values: (ext.values || []).concat([props]) }));
    }
    var list = props.values || [];
    var existing = list.filter(function (p) { return p.name === name; })[0];
    if (value === "") {
      if (existing) { commands.push(update(element, props, { values: list.filter(function (p) { return p !== existing; }) })); }
    } else if (existing) {
      if (existing.value !== value) { commands.push(update(element, existing, { value: value })); }
    } else {
      commands.push(update(element, props, { values: list.concat([this.moddle.create(SPIFF + "Property", { name: name, value: value })]) }));
    }
    this.run(commands);
  };

  // -- fields ---------------------------------------------------------------------------------------------
  var counter = 0;
  function field(label, input, help) {
    counter += 1;
    input.id = input.id || "prop-" + counter;
    return el("div", { className: "prop-field" }, [
      el("label", { "for": input.id, text: label }), input, help ? el("p", { className: "prop-help", text: help }) : null
    ]);
  }
  function textInput(value, name, onCommit, attrs) {
    var input = el("input", Object.assign({ type: "text", name: name, value: value || "", autocomplete: "off" }, attrs || {}));
    input.value = value || "";
    input.addEventListener("change", function () { onCommit(input.value.trim()); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); input.blur(); }
    });
    return input;
  }
  function select(value, name, choices, onCommit) {
    var node = el("select", { name: name });
    var known = false;
    choices.forEach(function (choice) {
      var option = el("option", { value: choice[0], text: choice[1] });
      if (choice[0] === value) { option.selected = true; known = true; }
      node.appendChild(option);
    });
    if (!known && value) {
      var unknown = el("option", { value: value, text: value + " (?)" });
      unknown.selected = true;
      node.insertBefore(unknown, node.firstChild);
    }
    node.addEventListener("change", function () { onCommit(node.value); });
    return node;
  }

  // -- rendering ------------------------------------------------------------------------------------------
  Panel.prototype.show = function (element) {
    var canvas = this.modeler.get("canvas");
    this.current = element || canvas.getRootElement();
    var target = this.current;
    var bo = target.businessObject;
    this.container.textContent = "";
    var header = el("div", { className: "prop-header" }, [
      el("h2", { text: this.typeLabel(bo) }),
      el("p", { className: "prop-id" }, [el("code", { text: bo.id })])
    ]);
    this.container.setAttribute("data-element-id", bo.id);
    this.container.appendChild(header);
    var self = this;
    var is = function (type) { return bo.$instanceOf(type); };
    if (!is("bpmn:Collaboration") && !is("bpmn:Process") && target.type !== "label") {
      this.container.appendChild(field(this.t("name"), textInput(bo.name, "name", function (v) {
        self.modeling.updateProperties(target, { name: v || undefined });
      })));
    }
    var process = is("bpmn:Participant") ? bo.processRef : (is("bpmn:Process") ? bo : null);
    if (is("bpmn:Collaboration")) {
      var participants = (bo.participants || []).filter(function (p) { return p.processRef; });
      process = participants.length ? participants[0].processRef : null;
      if (process) {
        target = this.modeler.get("elementRegistry").get(participants[0].id) || target;
      }
    }
    if (process) { this.renderProcess(target, process); }
    if (is("bpmn:Lane")) { this.renderLane(target, bo); }
    if (is("bpmn:UserTask")) { this.renderUserTask(target, bo); }
    if (is("bpmn:SendTask")) { this.renderSendTask(target, bo); }
    if (is("bpmn:ScriptTask")) { this.renderScript(target, bo); }
    var timer = (bo.eventDefinitions || []).filter(function (d) { return d.$instanceOf("bpmn:TimerEventDefinition"); })[0];
    if (timer) { this.renderTimer(target, timer); }
    if (is("bpmn:ExclusiveGateway") || is("bpmn:InclusiveGateway")) { this.renderGateway(target, bo); }
    if (is("bpmn:SequenceFlow")) { this.renderFlow(target, bo); }
  };

  Panel.prototype.typeLabel = function (bo) {
    var type = bo.$type.replace("bpmn:", "");
    return this.options.strings["type." + type] || type;
  };

  Panel.prototype.section = function (title) {
    var node = el("section", { className: "prop-section" }, [el("h3", { text: title })]);
    this.container.appendChild(node);
    return node;
  };

  Panel.prototype.anchors = function () {
    var root = this.modeler.get("canvas").getRootElement().businessObject;
    var process = root.$instanceOf("bpmn:Collaboration")
      ? ((root.participants || []).filter(function (p) { return p.processRef; })[0] || {}).processRef : root;
    if (!process) { return []; }
    return getProperty(process, "anchors").split(",").map(function (a) { return a.trim(); }).filter(Boolean);
  };

  Panel.prototype.renderProcess = function (element, process) {
    var self = this;
    var box = this.section(this.t("section.pathway"));
    box.appendChild(field(this.t("process.key"), textInput(process.id, "process_id", function (v) {
      if (v) { self.run([update(element, process, { id: v })]); }
    }), this.t("help.key")));
    box.appendChild(field(this.t("process.title"), textInput(process.name, "process_name", function (v) {
      self.run([update(element, process, { name: v || undefined })]);
    })));
    box.appendChild(field(this.t("process.anchors"), textInput(getProperty(process, "anchors"), "anchors", function (v) {
      self.setProperty(element, process, "anchors", v);
    }), this.t("help.anchors")));
    var props = spiffProperties(process);
    var params = ((props && props.values) || []).filter(function (p) { return (p.name || "").indexOf("param:") === 0; });
    params.forEach(function (p) {
      var name = p.name.slice("param:".length);
      box.appendChild(field(self.t("process.param") + " " + name, textInput(p.value, p.name, function (v) {
        self.setProperty(element, process, p.name, v);
      })));
    });
  };

  Panel.prototype.renderLane = function (element, bo) {
    var self = this;
    var box = this.section(this.t("section.lane"));
    var choices = [["", this.t("choose")]].concat(this.options.roles.map(function (r) { return [r[0], r[1] + " (" + r[0] + ")"]; }));
    box.appendChild(field(this.t("lane.role"), select(bo.name || "", "lane_role", choices, function (v) {
      self.modeling.updateProperties(element, { name: v || undefined });
    }), this.t("help.lane")));
  };

  Panel.prototype.renderUserTask = function (element, bo) {
    var self = this;
    var box = this.section(this.t("section.userTask"));
    var formKey = getProperty(bo, "form");
    var formInput = textInput(formKey, "form", function (v) { self.setProperty(element, bo, "form", v); },
                              { list: "form-keys" });
    box.appendChild(field(this.t("task.form"), formInput));
    var list = el("datalist", { id: "form-keys" });
    Object.keys(this.options.forms).sort().forEach(function (k) { list.appendChild(el("option", { value: k })); });
    box.appendChild(list);
    box.appendChild(field(this.t("task.due"), textInput(getProperty(bo, "due"), "due", function (v) {
      self.setProperty(element, bo, "due", v);
    }, { placeholder: "PT4H, P2D" }), this.t("help.duration")));
    var priorities = [["", this.t("none")]].concat(PRIORITIES.map(function (p) { return [p, self.t("priority." + p)]; }));
    box.appendChild(field(this.t("task.priority"), select(getProperty(bo, "priority"), "priority", priorities, function (v) {
      self.setProperty(element, bo, "priority", v);
    })));
    box.appendChild(field(this.t("task.escalate"), textInput(getProperty(bo, "escalate_after"), "escalate_after", function (v) {
      self.setProperty(element, bo, "escalate_after", v);
    }, { placeholder: "P1D" }), this.t("help.escalate")));
    if (formKey) { this.renderFormEditor(formKey); }
  };

  Panel.prototype.renderFormEditor = function (formKey) {
    var self = this;
    var forms = this.options.forms;
    var box = this.section(this.t("section.form") + " " + formKey);
    box.classList.add("form-editor");
    if (!Object.prototype.hasOwnProperty.call(forms, formKey)) {
      box.appendChild(el("p", { className: "prop-help", text: this.t("form.missing") }));
      var create = el("button", { type: "button", text: this.t("form.create") });
      create.addEventListener("click", function () {
        forms[formKey] = JSON.stringify({ type: "object", title: formKey, properties: {} }, null, 2);
        self.options.onFormsChanged();
        self.show(self.current);
      });
      box.appendChild(create);
      return;
    }
    var area = el("textarea", { name: "form_schema", rows: "14", spellcheck: "false", className: "code" });
    area.value = forms[formKey];
    area.addEventListener("input", function () { forms[formKey] = area.value; self.options.onFormsChanged(); });
    box.appendChild(field(this.t("form.schema"), area));
    var preview = el("div", { className: "form-preview", "aria-live": "polite" });
    var button = el("button", { type: "button", className: "form-preview-button", text: this.t("form.preview") });
    button.addEventListener("click", function () { self.preview(area.value, preview); });
    box.appendChild(button);
    box.appendChild(preview);
  };

  Panel.prototype.preview = function (text, target) {
    var self = this;
    target.textContent = this.t("form.previewing");
    fetch(this.options.previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.options.csrf },
      body: JSON.stringify({ schema: text })
    }).then(function (response) {
      if (response.ok) {
        return response.text().then(function (html) {
          // A fragment rendered (and escaped) by our own server-side form renderer.
          var doc = new DOMParser().parseFromString(html, "text/html");
          target.textContent = "";
          Array.prototype.slice.call(doc.body.childNodes).forEach(function (n) { target.appendChild(document.importNode(n, true)); });
          target.classList.remove("form-preview-error");
        });
      }
      return response.json().then(function (body) {
        target.textContent = self.t("form.invalid") + " " + (body.detail || response.status);
        target.classList.add("form-preview-error");
      });
    }).catch(function (error) {
      target.textContent = String(error);
      target.classList.add("form-preview-error");
    });
  };

  Panel.prototype.renderSendTask = function (element, bo) {
    var self = this;
    var box = this.section(this.t("section.sendTask"));
    var recipients = [["patient", this.t("recipient.patient")]].concat(
      this.options.roles.filter(function (r) { return r[0] !== "patient"; }).map(function (r) { return [r[0], r[1]]; }));
    box.appendChild(field(this.t("send.recipient"), select(getProperty(bo, "recipient") || "patient", "recipient", recipients, function (v) {
      self.setProperty(element, bo, "recipient", v);
    })));
    var channels = CHANNELS.map(function (c) { return [c, self.t("channel." + c)]; });
    box.appendChild(field(this.t("send.channel"), select(getProperty(bo, "channel") || "preferred", "channel", channels, function (v) {
      self.setProperty(element, bo, "channel", v);
    })));
    var templates = [["", this.t("choose")]].concat(this.options.templates.map(function (t) { return [t, t]; }));
    box.appendChild(field(this.t("send.template"), select(getProperty(bo, "template"), "template", templates, function (v) {
      self.setProperty(element, bo, "template", v);
    })));
    box.appendChild(field(this.t("send.appointment"), textInput(getProperty(bo, "appointment"), "appointment", function (v) {
      self.setProperty(element, bo, "appointment", v);
    }, { className: "code" }), this.t("help.appointment")));
  };

  Panel.prototype.renderScript = function (element, bo) {
    var self = this;
    var box = this.section(this.t("section.script"));
    var area = el("textarea", { name: "script", rows: "5", spellcheck: "false", className: "code" });
    area.value = bo.script || "";
    area.addEventListener("change", function () {
      self.modeling.updateProperties(element, { scriptFormat: "python", script: area.value });
    });
    box.appendChild(field(this.t("script.code"), area));
  };

  Panel.prototype.renderTimer = function (element, timer) {
    var self = this;
    var box = this.section(this.t("section.timer"));
    var kind = TIMER_KINDS.filter(function (k) { return timer[k]; })[0] || "timeDate";
    var expression = timer[kind] ? (timer[kind].body || "") : "";
    var commit = function (newKind, body) {
      if (newKind === kind && timer[kind]) {
        if (body !== expression) { self.run([update(element, timer[kind], { body: body })]); }
        return;
      }
      var props = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      props[newKind] = self.moddle.create("bpmn:FormalExpression", { body: body });
      self.run([update(element, timer, props)]);
    };
    var kinds = TIMER_KINDS.map(function (k) { return [k, self.t("timer." + k)]; });
    var kindSelect = select(kind, "timer_kind", kinds, function (v) { commit(v, input.value.trim()); });
    box.appendChild(field(this.t("timer.kind"), kindSelect));
    var input = textInput(expression, "timer_expression", function (v) { commit(kindSelect.value, v); }, { className: "code" });
    box.appendChild(field(this.t("timer.expression"), input, this.t("help.timer")));
    var anchors = this.anchors();
    if (anchors.length) {
      var chips = el("div", { className: "anchor-chips" }, [el("span", { className: "prop-help", text: this.t("timer.anchors") })]);
      anchors.forEach(function (anchor) {
        var chip = el("button", { type: "button", className: "anchor-chip", "data-anchor": anchor, text: anchor });
        chip.addEventListener("click", function () {
          var current = input.value.trim();
          var next = current ? current + " " + anchor : anchor + " + timedelta(days=1)";
          if (kindSelect.value !== "timeDate" && !current) { kindSelect.value = "timeDate"; }
          input.value = next;
          commit(kindSelect.value, next);
        });
        chips.appendChild(chip);
      });
      box.appendChild(chips);
    }
  };

  Panel.prototype.conditionField = function (flow, label) {
    var self = this;
    var bo = flow.businessObject;
    var body = bo.conditionExpression ? (bo.conditionExpression.body || "") : "";
    return field(label, textInput(body, "condition_" + bo.id, function (v) {
      var expr = v ? self.moddle.create("bpmn:FormalExpression", { body: v }) : undefined;
      self.modeling.updateProperties(flow, { conditionExpression: expr });
    }, { className: "code", placeholder: "douleur_nrs >= 7" }));
  };

  Panel.prototype.renderGateway = function (element, bo) {
    var self = this;
    var box = this.section(this.t("section.conditions"));
    var flows = (element.outgoing || []).filter(function (f) { return f.type === "bpmn:SequenceFlow"; });
    if (!flows.length) { box.appendChild(el("p", { className: "prop-help", text: this.t("gateway.noFlows") })); }
    var choices = [["", this.t("none")]].concat(flows.map(function (f) {
      return [f.id, (f.businessObject.name || f.id)];
    }));
    flows.forEach(function (flow) {
      var target = flow.target && flow.target.businessObject;
      var label = (flow.businessObject.name || flow.id) + " → " + ((target && (target.name || target.id)) || "?");
      box.appendChild(self.conditionField(flow, label));
    });
    box.appendChild(field(this.t("gateway.default"), select(bo["default"] ? bo["default"].id : "", "default_flow", choices, function (v) {
      var flow = flows.filter(function (f) { return f.id === v; })[0];
      self.modeling.updateProperties(element, { "default": flow ? flow.businessObject : undefined });
    })));
  };

  Panel.prototype.renderFlow = function (element, bo) {
    var source = element.source && element.source.businessObject;
    if (source && (source.$instanceOf("bpmn:ExclusiveGateway") || source.$instanceOf("bpmn:InclusiveGateway"))) {
      var box = this.section(this.t("section.condition"));
      box.appendChild(this.conditionField(element, this.t("flow.condition")));
      if (source["default"] === bo) { box.appendChild(el("p", { className: "prop-help", text: this.t("flow.isDefault") })); }
    }
  };

  window.ParcoursStudio = window.ParcoursStudio || {};
  window.ParcoursStudio.PropertiesPanel = Panel;
  window.ParcoursStudio.multiCommandModule = multiCommandModule;
}());
