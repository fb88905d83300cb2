/* The door scanner (/scan): camera and handheld scanning, answers that fill the screen, and offline check-in.

   Plain ES2020 with no build step. Codes are decoded in the page: the browser's BarcodeDetector where it reads
   QR codes (Android Chrome, recent Safari), otherwise ZXing-C++ as WebAssembly (the npm package zxing-wasm,
   served from /scan/vendor/ and loaded only when the camera starts). Scans go to /api/v1/checkins with the
   console session and the page's CSRF token. When the server cannot be reached the page answers by itself from
   the list it keeps (door list + public key, refreshed every 30 s), verifying the badge's Ed25519 signature
   with WebCrypto, and queues the scan for /api/v1/checkins/sync. */
"use strict";

(() => {
  const root = document.getElementById("scanner");
  if (!root) return;

  const CSRF = root.dataset.csrfToken || "";
  const REFRESH_MS = 30000; // the door list, while online
  const RETRY_MS = 10000; // the queue, while scans wait
  const DEBOUNCE_MS = 3000; // the camera ignores a code it has seen within this time
  const REQUEST_TIMEOUT_MS = 6000; // a server slower than this counts as unreachable
  const CLEAR_OK_MS = 4000;
  const CLEAR_REFUSED_MS = 8000;
  const FRAME_MS = 150;
  const MAX_FRAME_SIDE = 1024;
  const SYNC_BATCH = 200;
  const KEY = {
    device: "scanner.device",
    list: "scanner.list",
    camera: "scanner.camera",
    queue: "scanner.queue",
    doorList: (name) => `scanner.people.${name}`,
    admitted: (name) => `scanner.admitted.${name}`,
  };
  const PEOPLE_PREFIX = "scanner.people."; // the kept lists: names and organisations, removed at sign-out

  const $ = (id) => document.getElementById(id);
  const els = {
    list: $("list"), device: $("device"), form: $("scan-form"), code: $("code"),
    camera: $("camera-toggle"), cameraMessage: $("camera-message"), video: $("video"),
    answer: $("answer"), result: $("result"), next: $("next"),
    network: $("network"), networkState: root.querySelector(".network-state"), queueCount: $("queue-count"),
    syncProblem: $("sync-problem"), signIn: $("signin-again"),
    searchForm: $("search-form"), q: $("q"), searchMessage: $("search-message"), searchResults: $("search-results"),
    listInfo: $("list-info"), signout: $("signout"), cameraFor: $("camera-for"),
    last: $("last-admission"), lastText: $("last-admission-text"), undo: $("undo"), undoMessage: $("undo-message"),
  };
  const UNDO_MS = (Number(root.dataset.undoMinutes) || 5) * 60000;
  // A phone (a coarse pointer): the text field never takes focus by itself, or the keyboard would cover the
  // camera. A handheld scanner on a phone types into the field once it has been tapped.
  const TOUCH = window.matchMedia ? window.matchMedia("(pointer: coarse)").matches : false;

  let timeFormat;
  try {
    timeFormat = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: root.dataset.timezone });
  } catch (e) {
    timeFormat = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
  }
  const hhmm = (iso) => {
    const date = iso ? new Date(iso) : null;
    return date && !Number.isNaN(date.getTime()) ? timeFormat.format(date) : "";
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  // --- storage: localStorage, so that a scan queued offline survives a closed tab or a flat battery ---------

  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, JSON.stringify(value));
        return true;
      } catch (e) {
        return false;
      }
    },
    remove(key) {
      try {
        localStorage.removeItem(key);
      } catch (e) {
        /* storage switched off: nothing to remove */
      }
    },
  };

  function randomHex(length) {
    const bytes = new Uint8Array(Math.ceil(length / 2));
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, length);
  }

  const newId = () => `${Date.now().toString(36)}-${randomHex(12)}`;

  // --- settings: the list and this device's name ----------------------------------------------------------

  let device = String(store.get(KEY.device, "") || "").slice(0, 100) || `scanner-${randomHex(4)}`;
  store.set(KEY.device, device);
  els.device.value = device;
  els.device.addEventListener("change", () => {
    device = els.device.value.trim().slice(0, 100) || device;
    els.device.value = device;
    store.set(KEY.device, device);
  });

  let list = store.get(KEY.list, "door");
  if (!Array.from(els.list.options).some((option) => option.value === list)) list = "door";
  els.list.value = list;
  els.list.addEventListener("change", () => {
    list = els.list.value;
    store.set(KEY.list, list);
    renderListInfo();
    renderListFor();
    refreshList();
  });
  const listLabel = (name) => {
    const option = Array.from(els.list.options).find((o) => o.value === name);
    return option ? option.textContent.trim() : name;
  };
  function renderListFor() {
    // Which list the camera checks people in for, where staff look (the settings are at the bottom).
    els.cameraFor.textContent = list === "door" ? "· main door" : `· workshop: ${listLabel(list)}`;
  }

  // --- talking to the server --------------------------------------------------------------------------------

  class Unreachable extends Error {}
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  let online = navigator.onLine;
  let signedOut = false;
  let syncProblem = "";
  let conflicts = 0;

  function setOnline(value) {
    if (online === value) return;
    online = value;
    renderStatus();
    if (value) syncQueue();
  }

  async function api(method, path, body) {
    if (!navigator.onLine) throw new Unreachable("offline");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = { accept: "application/json", "x-csrf-token": CSRF };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: "same-origin", cache: "no-store", signal: controller.signal,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Unreachable(String(e));
    } finally {
      clearTimeout(timer);
    }
    // A proxy's "bad gateway" or a database that is down: the scanner goes on offline.
    if ([502, 503, 504].includes(response.status)) throw new Unreachable(`HTTP ${response.status}`);
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    setOnline(true);
    if (response.status === 401) {
      setSignedOut(true);
    } else if (response.ok) {
      setSignedOut(false);
    }
    if (!response.ok) {
      const error = data && data.error;
      let message = (error && error.message) || `The server answered ${response.status}.`;
      if (error && error.fields) message += " " + Object.values(error.fields).join(" ");
      throw new ApiError(message, response.status);
    }
    return data;
  }

  function setSignedOut(value) {
    if (signedOut === value) return;
    signedOut = value;
    renderStatus();
  }

  // --- the queue of scans made offline ----------------------------------------------------------------------

  const queue = () => {
    const items = store.get(KEY.queue, []);
    return Array.isArray(items) ? items : [];
  };

  function enqueueOffline(item) {
    const items = queue();
    items.push({ id: newId(), ...item });
    if (!store.set(KEY.queue, items)) {
      syncProblem = "This device's storage is full: the last scan could not be saved. Reconnect to send the waiting scans.";
    }
    renderStatus();
  }

  let syncing = null;
  function syncQueue() {
    if (!syncing) syncing = sendQueue().finally(() => { syncing = null; });
    return syncing;
  }

  // "done" (nothing left), "offline" (server unreachable), or "error" (the server refused; the scans stay).
  async function sendQueue() {
    let sent = 0;
    for (;;) {
      const batch = queue().slice(0, SYNC_BATCH);
      if (!batch.length) break;
      let body;
      try {
        body = await api("POST", "/api/v1/checkins/sync", {
          device, scans: batch.map(({ id, ...scan }) => scan),
        });
      } catch (e) {
        if (e instanceof Unreachable) {
          setOnline(false);
          return "offline";
        }
        syncProblem = e.status === 401 ? "" : `Waiting scans could not be sent: ${e.message}`;
        renderStatus();
        return "error";
      }
      const done = new Set(batch.map((item) => item.id));
      store.set(KEY.queue, queue().filter((item) => !done.has(item.id)));
      conflicts += (body && body.conflicts) || 0;
      sent += batch.length;
      syncProblem = "";
      renderStatus();
    }
    if (sent) refreshList();
    return "done";
  }

  // --- the list this device keeps for offline answers -------------------------------------------------------

  const cachedList = (name) => store.get(KEY.doorList(name), null);

  async function refreshList() {
    const name = list;
    try {
      const body = await api("GET", `/api/v1/checkins/door-list?list=${encodeURIComponent(name)}`);
      const saved = {
        list: name, fetched_at: new Date().toISOString(), algorithm: body.algorithm, public_key: body.public_key,
        version: body.version, title: body.title || "", entries: body.entries,
      };
      if (!store.set(KEY.doorList(name), saved)) {
        syncProblem = "This device's storage is full: the list for offline use could not be saved.";
      }
      // Admissions made here that the server now knows about need no local note any more.
      const admitted = store.get(KEY.admitted(name), {});
      for (const entry of body.entries) {
        if (entry.checked_in_at && admitted[entry.reference]) delete admitted[entry.reference];
      }
      store.set(KEY.admitted(name), admitted);
    } catch (e) {
      if (e instanceof Unreachable) setOnline(false);
    }
    renderListInfo();
  }

  function rememberAnswer(name, body) {
    // A live answer updates the kept list, so a scan a moment later, offline, still knows.
    const attendee = body && body.attendee;
    if (!attendee || !["ok", "already_checked_in"].includes(body.result)) return;
    const saved = cachedList(name);
    const entry = saved && saved.entries.find((e) => e.reference === attendee.reference);
    if (entry && !entry.checked_in_at) {
      entry.checked_in_at = body.checked_in_at || new Date().toISOString();
      store.set(KEY.doorList(name), saved);
    }
  }

  function renderListInfo() {
    const saved = cachedList(list);
    const what = listLabel(list);
    if (!saved) {
      els.listInfo.textContent = `No list for ${what} on this device yet: offline answers need one (it loads when online).`;
      return;
    }
    const people = saved.entries.length;
    const inside = saved.entries.filter((e) => e.checked_in_at).length;
    els.listInfo.textContent = `Kept for offline use: ${what}, ${plural(people, "delegate", "delegates")}, `
      + `${inside} checked in; updated at ${hhmm(saved.fetched_at)}.`;
  }

  // --- offline answers: the badge's signature, then the kept list -------------------------------------------

  const QR_ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]*$/;
  const REFERENCE = /^[A-Z0-9]+(?:-[A-Z0-9]+)*$/;
  const VERSION = /^[1-9][0-9]{0,8}$/;
  const BASE32 = /^[A-Z2-7]+$/;
  const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  // What the person scanning is told for each reason, and what to do: badges/codes.py FOR_STAFF, word for word.
  const LOOK_UP = "Find the delegate by name with the search instead.";
  const FOR_STAFF = {
    "empty": "Nothing was read. Scan the badge again.",
    "unreadable": `This is not a conference badge. ${LOOK_UP}`,
    "too long": `This is not a conference badge. ${LOOK_UP}`,
    "lowercase": "The scanner changed the code's capital letters to small ones, so it cannot be checked. " +
      "Scan it with this page's camera, or: find the delegate by name with the search instead.",
    "truncated": "Only part of the code was read. Scan it again, holding the badge flat and still.",
    "bad reference": `The code is damaged. ${LOOK_UP}`,
    "bad version": `The code is damaged. ${LOOK_UP}`,
    "bad signature encoding": `The code is damaged. ${LOOK_UP}`,
    "bad signature": "This badge was not issued by the organisers. Find the delegate by name, and check who they " +
      "are before letting them in.",
  };
  const forStaff = (reason) => FOR_STAFF[reason] || `The code cannot be read. ${LOOK_UP}`;

  // The same rules as badges/codes.py: one valid text per badge, and the reason in a few words otherwise.
  function parseCode(code) {
    if (!code) return { error: "empty" };
    if (code.length > 130) return { error: "too long" };
    if (!QR_ALPHANUMERIC.test(code)) return { error: QR_ALPHANUMERIC.test(code.toUpperCase()) ? "lowercase" : "unreadable" };
    const parts = code.split(".");
    if (parts.length !== 3) return { error: parts.length === 2 && REFERENCE.test(parts[0]) ? "truncated" : "unreadable" };
    const [reference, version, signature] = parts;
    if (reference.length > 16 || !REFERENCE.test(reference)) return { error: "bad reference" };
    if (!VERSION.test(version)) return { error: "bad version" };
    if (signature.length < 103) return { error: "truncated" };
    if (signature.length > 103 || !BASE32.test(signature)) return { error: "bad signature encoding" };
    const bytes = base32Decode(signature);
    if (!bytes) return { error: "bad signature encoding" };
    return { reference, version: Number(version), signature: bytes };
  }

  function base32Decode(text) {
    const out = [];
    let bits = 0;
    let value = 0;
    for (const ch of text) {
      value = (value << 5) | BASE32_ALPHABET.indexOf(ch);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 0xff);
        value &= (1 << bits) - 1;
      }
    }
    return out.length === 64 && value === 0 ? new Uint8Array(out) : null; // the 3 spare bits must be zero
  }

  function base64urlDecode(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  let verifyKey = { b64: "", key: null };
  // true or false; null when this browser cannot verify Ed25519 (Chromium before 137, Safari before 17).
  async function verifySignature(publicKey, parsed) {
    if (!window.crypto || !crypto.subtle || !publicKey) return null;
    try {
      if (verifyKey.b64 !== publicKey) {
        const key = await crypto.subtle.importKey("raw", base64urlDecode(publicKey), { name: "Ed25519" }, false, ["verify"]);
        verifyKey = { b64: publicKey, key };
      }
      const message = new TextEncoder().encode(`badge:v1:${parsed.reference}:${parsed.version}`);
      return await crypto.subtle.verify("Ed25519", verifyKey.key, parsed.signature, message);
    } catch (e) {
      return null;
    }
  }

  const REFUSED_STATUS = {
    cancelled: "cancelled", pending_payment: "unpaid", waitlisted: "no_place", awaiting_approval: "no_place",
    awaiting_verification: "no_place",
  };

  async function judgeOffline(name, scan) {
    const saved = cachedList(name);
    const door = name === "door" ? saved : cachedList("door");
    let reference = (scan.reference || "").trim().toUpperCase();
    let version = null;
    let note = "";
    if (!reference) {
      const parsed = parseCode(scan.code);
      if (parsed.error) return { result: "invalid", attendee: null, message: `Not a valid badge: ${forStaff(parsed.error)}` };
      const key = (saved && saved.public_key) || (door && door.public_key);
      const genuine = await verifySignature(key, parsed);
      if (genuine === false) return { result: "invalid", attendee: null, message: `Not a valid badge: ${forStaff("bad signature")}` };
      if (genuine === null) note = "The badge's signature could not be checked on this device.";
      reference = parsed.reference;
      version = parsed.version;
    }
    if (!saved) {
      return { result: "no_list", attendee: null, message: "This device has no list for offline answers yet." };
    }
    const entry = saved.entries.find((e) => e.reference === reference);
    const known = entry || (door && door.entries.find((e) => e.reference === reference));
    const attendee = known ? { name: known.name, organisation: known.organisation, reference } : null;
    if (!known) {
      return {
        result: "unknown", attendee: null, note,
        message: `The badge is genuine, but ${reference} was not on this device's list when it was updated at `
          + `${hhmm(saved.fetched_at)}. Check with the registration desk.`,
      };
    }
    if (version !== null && version !== known.badge_version) {
      return { result: "invalid", attendee, message: "This badge was replaced by a newer one; use the new badge." };
    }
    if (REFUSED_STATUS[known.status]) return { result: REFUSED_STATUS[known.status], attendee, note };
    if (!entry) return { result: "not_booked", attendee, note }; // a session list holds only those booked on it
    const here = store.get(KEY.admitted(name), {})[reference];
    if (entry.checked_in_at || here) {
      const first = here || { at: entry.checked_in_at, device: "" };
      return { result: "already_checked_in", attendee, checked_in_at: first.at, first_checkin: first, note };
    }
    return { result: "ok", attendee, checked_in_at: new Date().toISOString(), note };
  }

  function admitLocally(name, reference, at) {
    const admitted = store.get(KEY.admitted(name), {});
    admitted[reference] = { at, device };
    store.set(KEY.admitted(name), admitted);
  }

  // --- one scan, from the camera, the handheld scanner or a search result ----------------------------------

  let chain = Promise.resolve();
  function newScanId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function scan(item) {
    const read = { ...item, scannedAt: new Date().toISOString() }; // when it was read, not when its turn came
    chain = chain.then(() => handleScan(read)).catch((e) => {
      show({ result: "error", attendee: null, message: `Something went wrong on this device: ${e.message}` });
    });
    return chain;
  }

  async function handleScan(item) {
    const name = list;
    const source = item.source || "keyboard";
    const scannedAt = item.scannedAt;
    const what = item.reference ? { reference: item.reference } : { code: (item.code || "").slice(0, 2000) };
    // One id per scan, sent live and again in the offline queue: if the live answer was lost on the way
    // back, the server recognises the queued copy instead of counting a second admission.
    what.scan_id = newScanId();
    let unreachable = false;
    // Earlier offline scans go first, so the server sees them in the order they were made.
    if (queue().length && (await syncQueue()) === "offline") unreachable = true;
    if (!unreachable) {
      try {
        const body = await api("POST", "/api/v1/checkins", { ...what, list: name, device });
        rememberAnswer(name, body);
        if (body.result === "ok" && body.checkin_id) rememberAdmission(name, body);
        show({ ...body, list: name }, source);
        return;
      } catch (e) {
        if (!(e instanceof Unreachable)) {
          show(e.status === 401
            ? { result: "signed_out", attendee: null, message: "Sign in again to go on checking people in." }
            : { result: "error", attendee: null, message: e.message }, source);
          return;
        }
        setOnline(false);
      }
    }
    const answer = await judgeOffline(name, item);
    if (answer.result === "ok") admitLocally(name, answer.attendee.reference, scannedAt);
    enqueueOffline({ ...what, list: name, device, scanned_at: scannedAt, shown: answer.result });
    show({ ...answer, offline: true, list: name }, source);
  }

  // --- the answer, filling the screen -----------------------------------------------------------------------

  const TITLES = {
    ok: "Checked in",
    cancelled: "Cancelled",
    unpaid: "Not paid",
    not_booked: "Not booked on this session",
    no_place: "No place yet",
    unknown: "Not on this device's list",
    no_list: "Cannot check offline",
    signed_out: "Signed out",
    error: "Not checked",
  };
  const WARNINGS = new Set(["already_checked_in", "unknown", "no_list", "signed_out", "error"]);

  function describe(r) {
    if (r.result === "ok") return { tone: "ok", icon: "✓", title: TITLES.ok, detail: "" };
    let title = TITLES[r.result] || "Not checked in";
    let detail = r.message || "";
    if (r.result === "already_checked_in") {
      const first = r.first_checkin || {};
      const at = hhmm(first.at || r.checked_in_at);
      title = `Already checked in${at ? ` at ${at}` : ""}${first.device ? ` at ${first.device}` : ""}`;
      detail = "";
    } else if (r.result === "invalid") {
      // "Not a valid badge: why, and what to do": the why under the title, in the staff's words.
      title = "Not a valid badge";
      detail = detail.replace(/^Not a valid badge[:.]?\s*/, "");
    }
    return { tone: WARNINGS.has(r.result) ? "warning" : "refused", icon: "✗", title, detail };
  }

  function paragraph(className, text) {
    const p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    return p;
  }

  function accessNeeds(reference) {
    // Shown only while the organisers switch it on: the server then puts them in the kept list.
    for (const name of [list, "door"]) {
      const saved = cachedList(name);
      const entry = saved && saved.entries.find((e) => e.reference === reference);
      if (entry && entry.access_needs) return entry.access_needs;
    }
    return "";
  }

  function needsFlag(text, onOpen) {
    // A discreet flag; the words only on a tap (the queue behind can see the screen).
    const details = document.createElement("details");
    details.className = "access-needs";
    const summary = document.createElement("summary");
    summary.textContent = "Access needs";
    details.append(summary, paragraph("access-needs-text", text));
    details.addEventListener("click", (event) => event.stopPropagation());
    if (onOpen) details.addEventListener("toggle", onOpen);
    return details;
  }

  let clearTimer = 0;
  let lastSource = "keyboard";
  function show(r, source) {
    lastSource = source || "keyboard";
    const answer = describe(r);
    const parts = [paragraph("result-icon", answer.icon), paragraph("result-title", answer.title)];
    parts[0].setAttribute("aria-hidden", "true");
    if (answer.detail) parts.push(paragraph("result-detail", answer.detail));
    if (r.list && r.list !== "door") parts.push(paragraph("result-list", `Workshop: ${listLabel(r.list)}`));
    if (r.attendee) {
      parts.push(paragraph("result-name", r.attendee.name));
      if (r.attendee.organisation) parts.push(paragraph("result-organisation", r.attendee.organisation));
      parts.push(paragraph("result-reference", r.attendee.reference));
      const needs = ["ok", "already_checked_in"].includes(r.result) ? accessNeeds(r.attendee.reference) : "";
      if (needs) parts.push(needsFlag(needs, () => clearTimeout(clearTimer)));
    }
    if (r.note) parts.push(paragraph("result-detail", r.note));
    if (r.offline) parts.push(paragraph("result-offline", "Offline answer: saved on this device, sent when back online"));
    if (r.result === "signed_out") {
      const link = document.createElement("a");
      link.href = "/login?next=/scan";
      link.className = "result-link";
      link.textContent = "Sign in again";
      parts.push(link);
    }
    els.result.replaceChildren(...parts);
    els.answer.className = `answer answer--shown answer--${answer.tone}`;
    els.next.hidden = false;
    clearTimeout(clearTimer);
    clearTimer = setTimeout(clearAnswer, answer.tone === "ok" ? CLEAR_OK_MS : CLEAR_REFUSED_MS);
    focusCode(false);
  }

  // --- undo: the last admission this device made, for a few minutes -----------------------------------------

  let lastAdmission = null;
  let lastTimer = 0;
  function rememberAdmission(name, body) {
    lastAdmission = { id: body.checkin_id, list: name, reference: body.attendee.reference, who: body.attendee.name,
      at: body.checked_in_at };
    const where = name === "door" ? "" : ` (workshop: ${listLabel(name)})`;
    els.lastText.textContent = `Last checked in: ${body.attendee.name} at ${hhmm(body.checked_in_at)}${where}.`;
    els.undo.hidden = false;
    els.undoMessage.textContent = "";
    els.last.hidden = false;
    clearTimeout(lastTimer);
    lastTimer = setTimeout(() => { els.last.hidden = true; lastAdmission = null; }, UNDO_MS);
  }

  els.undo.addEventListener("click", async () => {
    const admission = lastAdmission;
    if (!admission) return;
    els.undo.disabled = true;
    try {
      await api("POST", `/api/v1/checkins/${encodeURIComponent(admission.id)}/undo`, {});
      els.undo.hidden = true;
      els.undoMessage.textContent = `Check-in undone: ${admission.who} is not checked in any more.`;
      lastAdmission = null;
      const saved = cachedList(admission.list);
      const entry = saved && saved.entries.find((e) => e.reference === admission.reference);
      if (entry) {
        entry.checked_in_at = null;
        store.set(KEY.doorList(admission.list), saved);
      }
      const admitted = store.get(KEY.admitted(admission.list), {});
      delete admitted[admission.reference];
      store.set(KEY.admitted(admission.list), admitted);
      renderListInfo();
    } catch (e) {
      els.undoMessage.textContent = e instanceof Unreachable
        ? "Not undone: the server cannot be reached. Try again when back online."
        : `Not undone: ${e.message}`;
    } finally {
      els.undo.disabled = false;
    }
  });

  function clearAnswer() {
    clearTimeout(clearTimer);
    if (els.answer.classList.contains("answer--idle")) return;
    els.result.replaceChildren(paragraph("result-ready", "Ready to scan."));
    els.answer.className = "answer answer--idle";
    els.next.hidden = true;
  }

  function focusCode(force) {
    // Keep the handheld scanner's input focused, unless staff are typing somewhere else on the page, or the
    // camera is scanning (on a phone, focus would pop the keyboard up over the camera).
    if (stream || lastSource === "camera" || (TOUCH && document.activeElement !== els.code)) return;
    const active = document.activeElement;
    if (force || !active || active === document.body || active === els.code || active === els.camera
        || els.answer.contains(active)) {
      els.code.focus({ preventScroll: true });
    }
  }

  els.next.addEventListener("click", () => {
    clearAnswer();
    focusCode(true);
  });
  els.answer.addEventListener("click", (event) => {
    if (event.target.closest("a")) return;
    if (els.answer.classList.contains("answer--shown")) {
      clearAnswer();
      focusCode(true);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && els.answer.classList.contains("answer--shown")) {
      clearAnswer();
      focusCode(true);
    }
  });

  // --- status line: online or offline, and the scans waiting ------------------------------------------------

  function renderStatus() {
    const waiting = queue().length;
    const state = !online ? "Offline" : waiting ? "Online, sending" : "Online";
    els.network.classList.toggle("network--offline", !online);
    els.network.classList.toggle("network--online", online);
    els.networkState.textContent = state;
    els.queueCount.textContent = `${plural(waiting, "scan", "scans")} waiting`;
    let problem = syncProblem;
    if (signedOut) problem = "You are signed out: sign in again to check people in and send waiting scans.";
    if (conflicts) problem += ` ${plural(conflicts, "offline admission", "offline admissions")} clashed with another scanner; the organisers can see them.`;
    els.syncProblem.textContent = problem.trim();
    els.syncProblem.hidden = !problem.trim();
    els.signIn.hidden = !signedOut;
  }

  // --- handheld scanners (and typing): a focused input, Enter submits ---------------------------------------

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = els.code.value.trim();
    els.code.value = "";
    lastSource = "keyboard";
    focusCode(true);
    if (code) scan({ code, source: "keyboard" });
  });

  // --- the camera ------------------------------------------------------------------------------------------

  let stream = null;
  let scanning = false;
  let decode = null;
  let zxing = null;
  let canvas = null;
  let context = null;
  const lastSeen = new Map();

  function cameraMessage(text) {
    els.cameraMessage.textContent = text;
  }

  function loadZXing() {
    if (!zxing) {
      zxing = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/scan/vendor/zxing-reader.js";
        script.onload = resolve;
        script.onerror = () => reject(new Error("zxing-reader.js did not load"));
        document.head.append(script);
      }).then(() => window.ZXingWASM.prepareZXingModule({
        overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? `/scan/vendor/${path}` : prefix + path) },
        fireImmediately: true,
      }));
      zxing.catch(() => { zxing = null; }); // try again next time the camera starts
    }
    return zxing;
  }

  async function decoder() {
    if (decode) return decode;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          decode = async (video) => (await detector.detect(video)).map((b) => b.rawValue);
          return decode;
        }
      } catch (e) {
        /* no usable native detector: use ZXing */
      }
    }
    await loadZXing();
    decode = async (video) => {
      const image = frame(video);
      if (!image) return [];
      const found = await window.ZXingWASM.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
      return found.filter((r) => r.isValid !== false && r.text).map((r) => r.text);
    };
    return decode;
  }

  function frame(video) {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    const scale = Math.min(1, MAX_FRAME_SIDE / Math.max(width, height));
    const w = Math.round(width * scale);
    const h = Math.round(height * scale);
    if (!canvas) {
      canvas = document.createElement("canvas");
      context = canvas.getContext("2d", { willReadFrequently: true });
    }
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    context.drawImage(video, 0, 0, w, h);
    return context.getImageData(0, 0, w, h);
  }

  function seen(code) {
    const now = Date.now();
    const last = lastSeen.get(code);
    lastSeen.set(code, now); // a badge held in view stays quiet until it has been away for DEBOUNCE_MS
    if (lastSeen.size > 100) {
      for (const [key, at] of lastSeen) if (now - at > DEBOUNCE_MS) lastSeen.delete(key);
    }
    if (last !== undefined && now - last < DEBOUNCE_MS) return;
    scan({ code, source: "camera" });
  }

  async function loop() {
    while (scanning) {
      const started = performance.now();
      if (els.video.readyState >= 2) {
        try {
          for (const code of await decode(els.video)) seen(code);
        } catch (e) {
          /* one bad frame: try the next */
        }
      }
      await sleep(Math.max(20, FRAME_MS - (performance.now() - started)));
    }
  }

  function setCameraButton(on) {
    els.camera.textContent = on ? "Stop camera" : "Start camera";
    els.camera.setAttribute("aria-pressed", on ? "true" : "false");
  }

  async function startCamera() {
    lastSource = "camera";
    if (document.activeElement === els.code) els.code.blur();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraMessage("This browser cannot use the camera on this page (it needs HTTPS). Use a handheld scanner or type the code.");
      return;
    }
    cameraMessage("Starting the camera…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      const why = {
        NotAllowedError: "Camera permission was refused: allow the camera in the browser's settings for this site.",
        NotFoundError: "No camera was found on this device.",
        NotReadableError: "The camera is in use by another app.",
      }[e.name] || `The camera could not start (${e.message}).`;
      cameraMessage(`${why} Use a handheld scanner or type the code.`);
      return;
    }
    els.video.srcObject = stream;
    els.video.hidden = false;
    setCameraButton(true);
    store.set(KEY.camera, "on");
    try {
      await els.video.play();
    } catch (e) {
      /* muted inline video plays; if not, frames still arrive on the next play() */
    }
    try {
      cameraMessage("Loading the QR reader…");
      await decoder();
    } catch (e) {
      cameraMessage(`The QR reader could not load (${e.message}). Use a handheld scanner or type the code.`);
      return;
    }
    if (!stream) return; // stopped meanwhile
    cameraMessage("Hold the badge's QR code up to the camera.");
    scanning = true;
    loop();
  }

  function stopCamera() {
    scanning = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    els.video.srcObject = null;
    els.video.hidden = true;
    setCameraButton(false);
    store.set(KEY.camera, "off");
    cameraMessage("");
  }

  els.camera.addEventListener("click", () => (stream ? stopCamera() : startCamera()));

  // --- search: delegates without their badge ----------------------------------------------------------------

  const STATUS_WORDS = {
    confirmed: "Confirmed", pending_payment: "Not paid", awaiting_approval: "Awaiting approval",
    awaiting_verification: "Email not confirmed", waitlisted: "Waiting list", cancelled: "Cancelled",
  };

  function searchLocal(q) {
    // Offline: the kept lists. Where each stands on this list, as the server would say it.
    const door = cachedList("door");
    const here = cachedList(list);
    const saved = door || here;
    if (!saved) return [];
    const needle = q.toLowerCase();
    const admitted = store.get(KEY.admitted(list), {});
    return saved.entries
      .filter((e) => [e.name, e.reference, e.organisation].some((v) => (v || "").toLowerCase().includes(needle)))
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, 20)
      .map((e) => {
        const onList = list === "door" ? e : here && here.entries.find((x) => x.reference === e.reference);
        const inAt = (onList && onList.checked_in_at) || (admitted[e.reference] && admitted[e.reference].at) || null;
        const booked = list === "door" ? null : Boolean(onList);
        return {
          ...e, checked_in_at: inAt, booked,
          can_check_in: e.status === "confirmed" && !inAt && (list === "door" || Boolean(onList)),
        };
      });
  }

  function standing(person) {
    // "In at 08:12", "Not yet", "Cancelled", "Not booked": what a check-in by reference would meet.
    if (person.checked_in_at) return { text: `In at ${hhmm(person.checked_in_at)}`, tone: "in" };
    if (person.status !== "confirmed") return { text: STATUS_WORDS[person.status] || person.status, tone: "refused" };
    if (person.booked === false) return { text: "Not booked on this workshop", tone: "refused" };
    return { text: "Not yet", tone: "waiting" };
  }

  function renderResults(found) {
    const items = found.map((person) => {
      const li = document.createElement("li");
      li.className = "search-result";
      const who = document.createElement("div");
      who.className = "search-who";
      const where = standing(person);
      const state = paragraph(`search-standing search-standing--${where.tone}`, where.text);
      who.append(paragraph("search-name", person.name), state,
        paragraph("search-meta", [person.organisation, person.reference].filter(Boolean).join(" · ")));
      if (person.access_needs) who.append(needsFlag(person.access_needs));
      const actions = document.createElement("div");
      actions.className = "search-actions";
      // Only what can succeed: "Check in" for a confirmed delegate not in yet (and booked, for a workshop).
      if (person.can_check_in) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button button--small";
        button.textContent = "Check in ";
        const hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = person.name;
        button.append(hidden);
        button.addEventListener("click", () => {
          button.disabled = true;
          lastSource = "search";
          scan({ reference: person.reference, source: "search" }).then(() => {
            person.checked_in_at = person.checked_in_at || new Date().toISOString();
          });
        });
        actions.append(button);
      }
      if (person.status === "confirmed") {
        const link = document.createElement("a");
        link.href = `/scan/badge/${encodeURIComponent(person.reference)}.pdf`;
        link.className = "search-print";
        link.textContent = "Print badge ";
        const forWhom = document.createElement("span");
        forWhom.className = "visually-hidden";
        forWhom.textContent = `for ${person.name}`;
        link.append(forWhom);
        actions.append(link);
      }
      li.append(who, actions);
      return li;
    });
    els.searchResults.replaceChildren(...items);
  }

  els.searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = els.q.value.trim();
    if (q.length < 2) {
      els.searchMessage.textContent = "Type at least two letters of the name, the reference or the organisation.";
      return;
    }
    els.searchMessage.textContent = "Searching…";
    let found;
    let where = "";
    try {
      found = (await api("GET", `/api/v1/checkins/search?q=${encodeURIComponent(q)}&list=${encodeURIComponent(list)}`)).data;
    } catch (e) {
      if (!(e instanceof Unreachable)) {
        els.searchMessage.textContent = e.message;
        return;
      }
      setOnline(false);
      found = searchLocal(q);
      where = " on this device's list (offline)";
    }
    renderResults(found);
    els.searchMessage.textContent = found.length
      ? `${plural(found.length, "delegate", "delegates")} found${where}.`
      : `Nobody found${where}. Check the spelling, or search by organisation.`;
  });

  // --- signing out: the kept lists hold personal data -------------------------------------------------------

  els.signout.addEventListener("submit", (event) => {
    const waiting = queue().length;
    if (waiting && !window.confirm(`${plural(waiting, "scan has", "scans have")} not been sent yet. They stay on this `
        + "device and are sent when someone signs in here again. Sign out anyway?")) {
      event.preventDefault();
      return;
    }
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i);
      if (key && key.startsWith(PEOPLE_PREFIX)) store.remove(key);
    }
    if (window.caches) {
      // The kept copy of this page names the person signed in: gone before the sign-out goes ahead.
      event.preventDefault();
      caches.delete(SW_CACHE).catch(() => undefined).finally(() => els.signout.submit());
    }
  });

  // --- installable and reloadable offline: the service worker keeps this page and its files -----------------

  const SW_CACHE = "scanner-v1"; // scanner-sw.js's CACHE
  async function keepThisPage() {
    if (!("serviceWorker" in navigator) || !root.dataset.serviceWorker) return;
    try {
      const registration = await navigator.serviceWorker.register(root.dataset.serviceWorker, { scope: "/scan" });
      const ready = await navigator.serviceWorker.ready;
      const files = Array.from(document.querySelectorAll("link[rel=stylesheet], link[rel=manifest], script[src]"),
        (el) => el.href || el.src);
      (ready.active || registration.active).postMessage({ type: "keep", urls: ["/scan", ...files] });
    } catch (e) {
      /* no service worker (http on a LAN address, private mode): the page still works, but not a reload offline */
    }
  }

  // --- start ------------------------------------------------------------------------------------------------

  window.addEventListener("online", () => {
    syncQueue();
    refreshList();
  });
  window.addEventListener("offline", () => setOnline(false));
  setInterval(refreshList, REFRESH_MS);
  setInterval(() => {
    if (queue().length) syncQueue();
  }, RETRY_MS);

  renderStatus();
  renderListInfo();
  renderListFor();
  keepThisPage();
  if (!TOUCH && store.get(KEY.camera, "off") !== "on") focusCode(true);
  refreshList().then(() => {
    if (queue().length) syncQueue();
  });
  if (store.get(KEY.camera, "off") === "on") startCamera();
})();
