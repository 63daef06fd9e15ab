/**
 * `/api/v1/docs`: a self-contained HTML page listing every operation of the OpenAPI document
 * (no script or stylesheet from elsewhere, so it works offline and under a strict CSP).
 */
interface Operation {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
}

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );

export function docsPage(
  document: { paths?: Record<string, Record<string, Operation>>; servers?: Array<{ url: string }> },
): string {
  const base = document.servers?.[0]?.url ?? "";
  const sections: string[] = [];
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const responses = Object.entries(operation.responses ?? {})
        .map(([status, r]) =>
          `<li><code>${escape(status)}</code> ${escape(r.description ?? "")}</li>`
        ).join("");
      const schema = operation.requestBody?.content?.["application/json"]?.schema;
      sections.push(
        `<section><h2><span class="m">${escape(method.toUpperCase())}</span> <code>${
          escape(base + path)
        }</code>` +
          `${operation.security ? " <small>Bearer token</small>" : ""}</h2>` +
          (schema ? `<pre>${escape(JSON.stringify(schema, null, 2))}</pre>` : "") +
          `<ul>${responses}</ul></section>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trading API</title>
<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
section{border-top:1px solid #ddd;padding:.5rem 0}.m{display:inline-block;min-width:4rem;color:#06c}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:13px}small{color:#777}</style></head>
<body><h1>Trading API</h1><p>The machine-readable document is <a href="${
    escape(base)
  }/openapi.json">openapi.json</a>.
Amounts in cents are integers; prices and quantities are decimal strings.</p>${
    sections.join("\n")
  }</body></html>`;
}
