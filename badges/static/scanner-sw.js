/* The scanner's service worker (served as /scan/sw.js, scope /scan): a reload, or a phone restarted, while the
   venue's network is down still opens the scanner. The page itself keeps its door list and its queue of scans
   in localStorage; this keeps the page and its files.

   - /scan (a navigation): the network first, so a signed-in, up-to-date page wins; its copy is kept. When the
     network fails or takes over NETWORK_MS, the kept copy answers.
   - The page's own files (/static/, /scan/static/, /scan/vendor/, the manifest): the kept copy at once, and a
     fresh one fetched behind it for next time.
   - Everything else (the API above all) is not touched: scans and the door list go to the network, and the
     page answers offline by itself when they fail.

   The page sends the list of its files once the worker is ready ({type: "keep", urls}); signing out deletes the
   cache (the page holds a name). */
"use strict";

const CACHE = "scanner-v1";
const NETWORK_MS = 4000;
const FILES = [/^\/static\//, /^\/scan\/static\//, /^\/scan\/vendor\//, /^\/scan\/manifest\.webmanifest$/];

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith("scanner-") && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep" && Array.isArray(data.urls)) {
    const urls = data.urls.filter((url) => typeof url === "string" && new URL(url, self.location).origin === self.location.origin);
    event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(urls.map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) await cache.put(url, response);
      } catch (e) {
        /* offline now: kept at the next visit */
      }
    }))));
  }
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error) => { clearTimeout(timer); reject(error); });
  });
}

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_MS);
    // Only a scanner page is kept (a redirect to /login, once signed out, is not).
    if (response.ok && !response.redirected) await cache.put("/scan", response.clone());
    return response;
  } catch (e) {
    const kept = await cache.match("/scan");
    if (kept) return kept;
    throw e;
  }
}

async function file(request, event) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(request, response.clone());
    return response;
  });
  if (kept) {
    event.waitUntil(fresh.catch(() => undefined));
    return kept;
  }
  return fresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/scan") {
    event.respondWith(page(request));
  } else if (FILES.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(file(request, event));
  }
});
