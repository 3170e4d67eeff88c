// The API reference (/api/v1/docs): Swagger UI, from our own static files, rendering the
// served OpenAPI document. A file, not an inline script: the CSP allows only 'self'.
(function () {
  "use strict";

  // What an operation asks of the caller, from its x-required-scope and security requirement.
  function requirementText(operation, globalSecurity) {
    var scope = operation.get("x-required-scope");
    var security = operation.get("security") || globalSecurity;
    var schemes = security ? security.filter(function (requirement) { return requirement.size > 0; }) : null;
    if (!scope && schemes && schemes.size) {
      scope = schemes.flatMap(function (requirement) { return requirement.valueSeq().flatten(); }).first();
    }
    if (scope) return "Scope: " + scope;
    if (schemes && schemes.size) return "Any valid API key";
    return "No API key";
  }

  // Shows the requirement in every operation's summary bar, so it reads without expanding.
  function RequirementPlugin(system) {
    var h = system.React.createElement;
    return {
      wrapComponents: {
        OperationSummaryPath: function (Original) {
          return function (props) {
            var path = props.operationProps.get("path");
            var method = props.operationProps.get("method");
            var operation = system.specSelectors.specJson().getIn(["paths", path, method]);
            var text = operation ? requirementText(operation, system.specSelectors.security()) : "";
            return h(
              system.React.Fragment,
              null,
              h(Original, props),
              text ? h("span", { className: "api-requirement" }, text) : null
            );
          };
        },
      },
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("api-reference");
    window.SwaggerUIBundle({
      url: root.dataset.openapiUrl,
      domNode: root,
      deepLinking: true,
      docExpansion: "list",
      // Swagger UI would otherwise send the document to an outside validator for a badge.
      validatorUrl: null,
      // "Try it out" needs a key: kept in memory for this page only, never in localStorage.
      persistAuthorization: false,
      displayRequestDuration: true,
      plugins: [RequirementPlugin],
    });
  });
})();
