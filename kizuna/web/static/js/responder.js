// The responder's phone: dispatch offers live, accept (with ETA) or decline, then report status.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const NEXT = { accepted: "en_route", en_route: "on_scene", on_scene: "cleared" };
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  const offers = new Map(); // dispatch_id -> offer as sent by the API
  const active = new Map(); // dispatch_id -> {offer, status}
  let socket = null;
  let backoff = 1;
  let stopped = false;
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
    if (socket) socket.close();
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

  function setConnection(connected, text) {
    const el = $("connection");
    el.className = `status ${connected ? "ok" : "lost"}`;
    el.textContent = text;
  }

  function connect() {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    setConnection(false, t("status.connecting"));
    socket = new WebSocket(`${scheme}://${location.host}/ws/responders?token=${encodeURIComponent(token())}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "hello") {
        backoff = 1;
        setConnection(true, t("status.connected"));
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
      socket = null;
      if (stopped) return;
      if (event.code === 1008) {
        // The server refused the token: log in again rather than retry forever.
        sessionStorage.removeItem(TOKEN);
        showLogin(true);
        return;
      }
      setConnection(false, t("status.lost", { s: backoff }));
      setTimeout(connect, backoff * 1000);
      backoff = Math.min(backoff * 2, 30);
    };
  }

  async function start() {
    const result = await call("GET", "/api/v1/responders/me/offers");
    if (!result.ok) {
      if (result.status !== 401) Kizuna.showError($("login-form"), result.data.error);
      return;
    }
    offers.clear();
    for (const offer of result.data) offers.set(offer.dispatch_id, offer);
    $("login-form").classList.add("hidden");
    $("work").classList.remove("hidden");
    $("logout").classList.remove("hidden");
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
    stopped = false;
    connect();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showLogin(false);
    });
    document.addEventListener("kizuna:language", () => {
      renderOffers();
      renderActive();
    });
    if (token()) await start();
    else showLogin(false);
  });
})();
