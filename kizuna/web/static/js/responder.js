// The responder's phone: dispatch offers live, accept (with ETA) or decline, then report status.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const NEXT = { accepted: "en_route", en_route: "on_scene", on_scene: "cleared" };
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  const offers = new Map(); // dispatch_id -> offer as sent by the API
  const active = new Map(); // dispatch_id -> {offer, status}
  const PING_MS = 25000; // keeps idle proxies and NATs from dropping the socket
  let socket = null;
  let backoff = 1;
  let retry = null; // the timer of the next reconnection attempt
  let pinger = null;
  let stopped = true;
  let started = false; // the offers are loaded; a lost connection needs only the socket again
  let connection = { ok: false, key: "status.connecting", params: {} };
  let push = { state: "off", error: null }; // this browser's Web Push: on/off/unsupported/denied/failed/working
  let map = null;
  let markers = null;
  let me = null; // [lat, lon] of the responder's last reported location, if any

  const token = () => sessionStorage.getItem(TOKEN);

  async function call(method, path, options = {}) {
    const result = await Kizuna.api(method, path, { ...options, token: token() });
    if (result.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showLogin(true);
    }
    return result;
  }

  function showLogin(expired) {
    stopped = true;
    clearTimeout(retry);
    dropSocket();
    $("login-form").classList.remove("hidden");
    $("work").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("expired").classList.toggle("hidden", !expired);
  }

  function login(event) {
    return Kizuna.logIn(event, start);
  }

  function describe(offer) {
    const head = document.createElement("h3");
    head.textContent = offer.incident.description;
    const facts = document.createElement("p");
    const lines = [t("responder.distance", { km: (offer.distance_m / 1000).toFixed(1) })];
    if (offer.skills && offer.skills.length) {
      lines.push(t("responder.skills", { skills: offer.skills.join(", ") }));
    }
    facts.textContent = lines.join(" · ");
    return [head, facts];
  }

  function button(label, className, handler) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  // Incidents on the map: offers in red, assignments in blue, the responder's own place in grey.
  function renderMap() {
    if (!map) return;
    markers.clearLayers();
    const points = [];
    const mark = (lat, lon, color, label) => {
      L.circleMarker([lat, lon], { radius: 9, color }).bindTooltip(label).addTo(markers);
      points.push([lat, lon]);
    };
    if (me) mark(me[0], me[1], "#555", "me");
    for (const offer of offers.values()) {
      mark(offer.incident.lat, offer.incident.lon, "#a4161a", offer.incident.description);
    }
    for (const item of active.values()) {
      mark(item.offer.incident.lat, item.offer.incident.lon, "#0b3d6e", item.offer.incident.description);
    }
    if (points.length === 1) map.setView(points[0], 14);
    else if (points.length > 1) map.fitBounds(points, { padding: [24, 24], maxZoom: 15 });
  }

  function renderOffers() {
    renderMap();
    const list = $("offers");
    list.replaceChildren();
    for (const offer of offers.values()) {
      const card = document.createElement("form");
      card.className = "board-item offer";
      card.dataset.dispatch = offer.dispatch_id;
      card.noValidate = true;
      const expires = document.createElement("p");
      expires.textContent = t("responder.expires", {
        time: new Date(offer.expires_at).toLocaleTimeString(Kizuna.lang),
      });
      const etaId = `eta-${offer.dispatch_id}`;
      const label = document.createElement("label");
      label.htmlFor = etaId;
      label.textContent = t("responder.eta");
      const eta = document.createElement("input");
      eta.type = "number";
      eta.min = "0";
      eta.max = "1440";
      eta.value = String(Math.max(1, Math.round(offer.distance_m / 500)));
      eta.id = etaId;
      eta.dataset.field = "eta_min";
      const row = document.createElement("div");
      row.className = "row";
      row.append(
        button(t("responder.accept"), "big", () => answer(card, offer, true, eta.value)),
        button(t("responder.decline"), "big secondary", () => answer(card, offer, false)),
      );
      card.append(...describe(offer), expires, label, eta, row);
      list.appendChild(card);
    }
    $("no-offers").classList.toggle("hidden", offers.size > 0);
  }

  function renderActive() {
    renderMap();
    const list = $("active");
    list.replaceChildren();
    for (const [id, item] of active) {
      const card = document.createElement("div");
      card.className = "board-item assignment";
      card.dataset.dispatch = id;
      const status = document.createElement("p");
      status.className = "assignment-status";
      status.setAttribute("role", "status");
      status.textContent = t("responder.status", { status: t(`responder.status.${item.status}`) });
      card.append(...describe(item.offer), status);
      const next = NEXT[item.status];
      if (next) {
        card.appendChild(button(t(`responder.status.${next}`), "big", () => report(card, id, next)));
      }
      list.appendChild(card);
    }
  }

  async function answer(card, offer, accept, eta) {
    Kizuna.clearErrors(card);
    const body = { accept };
    if (accept && eta !== "") body.eta_min = Number(eta);
    const result = await call("POST", `/api/v1/dispatches/${offer.dispatch_id}/responses`, { body });
    if (result.status === 401) return;
    if (!result.ok) {
      Kizuna.showError(card, result.data.error);
      return;
    }
    offers.delete(offer.dispatch_id);
    if (accept) active.set(offer.dispatch_id, { offer, status: "accepted" });
    renderOffers();
    renderActive();
  }

  async function report(card, id, status) {
    Kizuna.clearErrors(card);
    const result = await call("POST", `/api/v1/dispatches/${id}/status`, { body: { status } });
    if (result.status === 401) return;
    if (!result.ok) {
      Kizuna.showError(card, result.data.error);
      return;
    }
    active.get(id).status = status;
    renderActive();
  }

  function setConnection(ok, key, params = {}) {
    connection = { ok, key, params };
    const el = $("connection");
    el.className = `status ${ok ? "ok" : "lost"}`;
    el.textContent = t(key, params);
  }

  // Forget the socket without waiting for its close: on a dead network the close handshake
  // can take minutes, and its late onclose must not schedule a second reconnection.
  function dropSocket() {
    clearInterval(pinger);
    if (!socket) return;
    const old = socket;
    socket = null;
    old.onmessage = null;
    old.onclose = null;
    old.close();
  }

  function reconnectLater() {
    setConnection(false, "status.lost", { s: backoff });
    clearTimeout(retry);
    retry = setTimeout(connect, backoff * 1000);
    backoff = Math.min(backoff * 2, 30);
  }

  function connect() {
    if (stopped) return;
    clearTimeout(retry);
    dropSocket();
    if (!navigator.onLine) {
      // The "online" event reconnects at once; this later try is only a fallback.
      setConnection(false, "status.offline");
      retry = setTimeout(connect, 30000);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    setConnection(false, "status.connecting");
    socket = new WebSocket(`${scheme}://${location.host}/ws/responders?token=${encodeURIComponent(token())}`);
    const current = socket;
    pinger = setInterval(() => {
      if (current.readyState === WebSocket.OPEN) current.send(JSON.stringify({ type: "ping" }));
    }, PING_MS);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "hello") {
        backoff = 1;
        setConnection(true, "status.connected");
        offers.clear();
        for (const offer of message.offers) offers.set(offer.dispatch_id, offer);
      } else if (message.type === "offer") {
        offers.set(message.dispatch_id, message);
      } else if (message.type === "withdrawn") {
        offers.delete(message.dispatch_id);
      }
      renderOffers();
    };
    socket.onclose = (event) => {
      clearInterval(pinger);
      socket = null;
      if (stopped) return;
      if (event.code === 1008) {
        // The server refused the token: log in again rather than retry forever.
        sessionStorage.removeItem(TOKEN);
        showLogin(true);
        return;
      }
      reconnectLater();
    };
  }

  // The browser knows at once when the network goes; an open WebSocket may not notice for
  // minutes. Show it now, and reconnect (which resends the open offers) when it comes back.
  function wentOffline() {
    if (stopped) return;
    clearTimeout(retry);
    dropSocket();
    setConnection(false, "status.offline");
    retry = setTimeout(started ? connect : start, 30000); // fallback: "online" comes first
  }

  function cameOnline() {
    if (stopped) return;
    backoff = 1;
    if (started) connect();
    else start();
  }

  // --- Web Push: offers reach the phone while this page is closed ------------------------------

  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function apiError(result) {
    return (result.data && result.data.error) || { code: "http", message: `HTTP ${result.status}` };
  }

  function setPush(state, error) {
    push = { state, error: error || null };
    renderPush();
  }

  function renderPush() {
    const { state, error } = push;
    const section = $("push");
    Kizuna.clearErrors(section);
    const on = $("push-on");
    on.classList.toggle("hidden", state === "on");
    on.disabled = state === "unsupported" || state === "denied" || state === "working";
    $("push-off").classList.toggle("hidden", state !== "on");
    $("push-status").textContent = t(`responder.push.${state}`);
    // The API's (or the browser's) own words, beside the button that failed.
    if (state === "failed" && error) Kizuna.showError(section, error, $("push-buttons"));
  }

  async function loadPush() {
    if (!pushSupported()) return setPush("unsupported");
    if (Notification.permission === "denied") return setPush("denied");
    const mine = await call("GET", "/api/v1/webpush/me");
    if (mine.status === 401) return;
    if (mine.ok) setPush("on");
    else if (mine.status === 404) setPush("off");
    else setPush("failed", apiError(mine));
  }

  async function enablePush() {
    if (!pushSupported()) return setPush("unsupported");
    setPush("working");
    try {
      if ((await Notification.requestPermission()) !== "granted") return setPush("denied");
      const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      await navigator.serviceWorker.ready;
      const key = await Kizuna.api("GET", "/api/v1/webpush/public-key");
      if (!key.ok) return setPush("failed", apiError(key));
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: Kizuna.keyBytes(key.data.public_key),
      });
      const saved = await call("PUT", "/api/v1/webpush/me", { body: subscription.toJSON() });
      if (saved.status === 401) return;
      if (!saved.ok) return setPush("failed", apiError(saved));
      setPush("on");
    } catch (error) {
      setPush("failed", { code: "browser", message: String((error && error.message) || error) });
    }
  }

  async function disablePush() {
    setPush("working");
    const removed = await call("DELETE", "/api/v1/webpush/me");
    if (removed.status === 401) return;
    if (!removed.ok) return setPush("failed", apiError(removed));
    try {
      // Also tell the push service, so nothing is sent to this browser at all.
      const registration = await navigator.serviceWorker.getRegistration("/");
      const subscription = registration && (await registration.pushManager.getSubscription());
      if (subscription) await subscription.unsubscribe();
    } catch (_) {
      // The server has forgotten it already; nothing more will be pushed.
    }
    setPush("off");
  }

  function showWork() {
    $("login-form").classList.add("hidden");
    $("work").classList.remove("hidden");
    $("logout").classList.remove("hidden");
  }

  async function start() {
    stopped = false;
    started = false;
    clearTimeout(retry);
    const result = await call("GET", "/api/v1/responders/me/offers");
    if (result.status === 0) {
      // Logged in, but the server cannot be reached: show the page as lost and start again.
      showWork();
      if (navigator.onLine) {
        setConnection(false, "status.lost", { s: backoff });
        retry = setTimeout(start, backoff * 1000);
        backoff = Math.min(backoff * 2, 30);
      } else {
        setConnection(false, "status.offline");
        retry = setTimeout(start, 30000);
      }
      return;
    }
    if (!result.ok) {
      if (result.status === 401) return; // call() has shown the login form
      showLogin(false);
      Kizuna.showError($("login-form"), apiError(result));
      return;
    }
    started = true;
    offers.clear();
    for (const offer of result.data) offers.set(offer.dispatch_id, offer);
    showWork();
    if (!map && typeof L !== "undefined") {
      map = Kizuna.makeMap("map", [36.2, 138.25], 5);
      markers = L.layerGroup().addTo(map);
    }
    const profile = await call("GET", "/api/v1/responders/me");
    if (profile.ok && profile.data.lat != null && profile.data.lon != null) {
      me = [profile.data.lat, profile.data.lon];
    }
    renderOffers();
    renderActive();
    backoff = 1;
    connect();
    await loadPush();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showLogin(false);
    });
    $("push-on").addEventListener("click", enablePush);
    $("push-off").addEventListener("click", disablePush);
    window.addEventListener("offline", wentOffline);
    window.addEventListener("online", cameOnline);
    document.addEventListener("kizuna:language", () => {
      renderOffers();
      renderActive();
      renderPush();
      setConnection(connection.ok, connection.key, connection.params);
    });
    if (token()) await start();
    else showLogin(false);
  });
})();
