// A wasi:http proxy for the tests, built with componentize-js (StarlingMonkey): the second toolchain.
// Any request -> JSON of what the guest saw (method, path with query, a header, the body).
addEventListener("fetch", (event) =>
  event.respondWith(
    (async () => {
      const url = new URL(event.request.url);
      const body = await event.request.text();
      const doc = {
        toolchain: "componentize-js",
        method: event.request.method,
        path: url.pathname + url.search,
        header: event.request.headers.get("x-custom"),
        body,
      };
      return new Response(JSON.stringify(doc), { headers: { "content-type": "application/json", "x-js": "yes" } });
    })()
  )
);
