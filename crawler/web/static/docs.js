// /api/docs: Swagger UI over the app's own OpenAPI description, every file served by the app (no CDN).
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: root.dataset.openapiUrl, domNode: root, deepLinking: true });
})();
