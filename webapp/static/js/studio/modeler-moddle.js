/* The spiffworkflow moddle extension for the studio's bpmn-js modeler: the extension elements SpiffWorkflow
 * reads (spiffworkflow:properties / property, scripts, decisions, messages...), so the properties panel can
 * read and write them and every one of them survives an import / export round trip.
 * An element of this namespace that is not declared here would be dropped by bpmn-js on import: modeler.js
 * shows such import warnings to the user before anything is saved. */
(function () {
  "use strict";
  function text(name) {
    return { name: name, superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] };
  }
  function attrs(name, names) {
    return {
      name: name, superClass: ["Element"],
      properties: names.map(function (n) { return { name: n, isAttr: true, type: "String" }; })
    };
  }
  function many(name, childType, extra) {
    var props = [{ name: "values", type: childType, isMany: true }];
    (extra || []).forEach(function (n) { props.push({ name: n, isAttr: true, type: "String" }); });
    return { name: name, superClass: ["Element"], properties: props };
  }
  var descriptor = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [
      many("Properties", "Property"),
      attrs("Property", ["name", "value"]),
      text("PreScript"), text("PostScript"), text("CalledDecisionId"), text("MessageVariable"),
      text("MessagePayload"), text("InstructionsForEndUser"), text("SignalPayload"), text("AllowGuest"),
      text("GuestConfirmation"), text("SignalButtonLabel"), text("PropertyId"), text("Expression"),
      text("InputJson"), text("ExpectedOutputJson"),
      {
        name: "ServiceTaskOperator", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" },
                     { name: "resultVariable", isAttr: true, type: "String" },
                     { name: "parameterList", type: "Parameters" },
                     { name: "retry", type: "Retry" }]
      },
      many("Parameters", "Parameter"),
      attrs("Parameter", ["id", "name", "type", "value"]),
      attrs("Retry", ["retries", "backoff_base"]),
      {
        name: "UnitTests", superClass: ["Element"],
        properties: [{ name: "values", type: "UnitTest", isMany: true }]
      },
      {
        name: "UnitTest", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" },
                     { name: "inputJson", type: "InputJson" },
                     { name: "expectedOutputJson", type: "ExpectedOutputJson" }]
      },
      many("TaskMetadataValues", "TaskMetadataValue"),
      attrs("TaskMetadataValue", ["name", "value"]),
      {
        name: "ProcessVariableCorrelation", superClass: ["Element"],
        properties: [{ name: "propertyId", type: "PropertyId" }, { name: "expression", type: "Expression" }]
      }
    ]
  };
  window.ParcoursStudio = window.ParcoursStudio || {};
  window.ParcoursStudio.spiffModdle = descriptor;
}());
