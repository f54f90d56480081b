// The resident page: register places and languages, then receive alerts over /ws/alerts.
"use strict";

(() => {
  const STORE = "kizuna.subscription";
  const ACKED = "kizuna.acknowledged";
  const places = [];
  const alerts = new Map(); // alert_id → the latest message for it
  let map = null;
  let markers = null;
  let socket = null;
  let backoff = 1;
  let retryTimer = null;

  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);

  function stored() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "null");
    } catch (_) {
      return null;
    }
  }

  function acknowledged() {
    try {
      return new Set(JSON.parse(localStorage.getItem(ACKED) || "[]"));
    } catch (_) {
      return new Set();
    }
  }

  // ---- registering --------------------------------------------------------------------------

  function renderPlaces() {
    const list = $("places");
    list.innerHTML = "";
    markers.clearLayers();
    places.forEach((place, index) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `${place.label || "📍"} (${place.lat.toFixed(4)}, ${place.lon.toFixed(4)})`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = t("resident.place.remove");
      remove.addEventListener("click", () => {
        places.splice(index, 1);
        renderPlaces();
      });
      item.append(text, remove);
      list.appendChild(item);
      L.circleMarker([place.lat, place.lon], { radius: 8, color: "#0b3d6e" }).addTo(markers);
    });
    $("no-places").classList.toggle("hidden", places.length > 0);
  }

  function addPlace() {
    const lon = parseFloat($("place-lon").value);
    const lat = parseFloat($("place-lat").value);
    if (Number.isNaN(lon) || Number.isNaN(lat)) {
      Kizuna.showError($("register-form"), { field: "places", message: t("resident.places.help") });
      return;
    }
    Kizuna.clearErrors($("register-form"));
    const label = $("place-label").value.trim() || null;
    places.push({ label, lon, lat });
    $("place-label").value = "";
    renderPlaces();
  }

  function setPoint(lat, lon) {
    $("place-lat").value = lat.toFixed(5);
    $("place-lon").value = lon.toFixed(5);
  }

  async function register(event) {
    event.preventDefault();
    const form = $("register-form");
    if (!places.length && $("place-lon").value && $("place-lat").value) addPlace();
    const languages = [...form.querySelectorAll("input[name=language]:checked")].map((el) => el.value);
    // The first language wins when an alert has several, so the one this page is shown in leads.
    languages.sort((a, b) => (b === Kizuna.lang) - (a === Kizuna.lang));
    $("register").disabled = true;
    // Exercises and tests reach only residents who ask for them.
    const drills = $("drills").checked;
    const result = await Kizuna.api("POST", "/api/v1/subscriptions", { body: { places, languages, drills } });
    $("register").disabled = false;
    if (!result.ok) {
      Kizuna.showError(form, result.data && result.data.error, $("register-errors"));
      return;
    }
    Kizuna.clearErrors(form);
    localStorage.setItem(STORE, JSON.stringify(result.data));
    showRegistered(result.data);
  }

  async function forget() {
    const subscription = stored();
    if (subscription) {
      await Kizuna.api("DELETE", `/api/v1/subscriptions/${subscription.id}`, { token: subscription.token });
    }
    localStorage.removeItem(STORE);
    localStorage.removeItem(ACKED);
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    clearTimeout(retryTimer);
    alerts.clear();
    renderAlerts();
    $("registered-section").classList.add("hidden");
    $("alerts-section").classList.add("hidden");
    $("register-form").classList.remove("hidden");
  }

  function showRegistered(subscription) {
    $("register-form").classList.add("hidden");
    $("registered-section").classList.remove("hidden");
    $("alerts-section").classList.remove("hidden");
    const list = $("registered-places");
    list.innerHTML = "";
    for (const place of subscription.places) {
      const item = document.createElement("li");
      item.textContent = place.label || place.municipality_code || `${place.lat}, ${place.lon}`;
      list.appendChild(item);
    }
    connect();
  }

  // ---- the live connection ------------------------------------------------------------------

  function setStatus(ok, text) {
    const el = $("connection");
    el.className = `status ${ok ? "ok" : "lost"}`;
    el.textContent = text;
  }

  function connect() {
    const subscription = stored();
    if (!subscription) return;
    setStatus(false, t("status.connecting"));
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/alerts?token=${encodeURIComponent(subscription.token)}`;
    socket = new WebSocket(url);
    socket.onmessage = (event) => handle(JSON.parse(event.data));
    socket.onclose = () => {
      // Back off 1, 2, 4 … 30 s so a city's phones do not all hammer a recovering server.
      const wait = backoff;
      backoff = Math.min(backoff * 2, 30);
      setStatus(false, t("status.lost", { s: wait }));
      retryTimer = setTimeout(connect, wait * 1000);
    };
  }

  function handle(message) {
    if (message.type === "hello") {
      backoff = 1;
      setStatus(true, t("status.connected"));
    } else if (message.type === "alert") {
      const previous = alerts.get(message.alert_id);
      if (!previous || previous.version <= message.version) alerts.set(message.alert_id, message);
      renderAlerts();
      // The receipt turns the officer's "sent" into "reached the device".
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ received: message.alert_id, version: message.version }));
      }
    } else if (message.type === "ack") {
      const done = acknowledged();
      done.add(message.alert_id);
      localStorage.setItem(ACKED, JSON.stringify([...done]));
      renderAlerts();
    }
  }

  function acknowledge(alertId) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ ack: alertId }));
  }

  function renderShelters(card, message) {
    const found = (message.shelters || []).flatMap((entry) => entry.nearest || []);
    if (!message.shelters) return;
    const heading = document.createElement("h4");
    heading.textContent = t("resident.shelters");
    card.appendChild(heading);
    if (!found.length) {
      const none = document.createElement("p");
      none.textContent = t("resident.shelters.none");
      card.appendChild(none);
      return;
    }
    const list = document.createElement("ul");
    list.className = "plain shelters";
    for (const shelter of found) {
      const item = document.createElement("li");
      const room = shelter.capacity - shelter.occupancy;
      item.textContent = `${shelter.name} — ${(shelter.distance_m / 1000).toFixed(1)} km — ${room}/${shelter.capacity}`;
      list.appendChild(item);
    }
    card.appendChild(list);
  }

  function renderAlerts() {
    const box = $("alerts");
    box.innerHTML = "";
    const done = acknowledged();
    const now = Date.now();
    const active = [...alerts.values()].filter(
      (m) => m.in_area && (m.msg_type === "Cancel" || Date.parse(m.expires) > now),
    );
    for (const message of active) {
      const card = document.createElement("article");
      const cancelled = message.msg_type === "Cancel";
      card.className = `alert-card level-${message.evacuation_level || 0}${cancelled ? " cancelled" : ""}`;
      card.dataset.alertId = message.alert_id;
      card.lang = message.language;
      const heading = document.createElement("h3");
      heading.textContent = message.headline;
      const badges = document.createElement("p");
      if (message.evacuation_level) {
        const level = document.createElement("span");
        level.className = "badge";
        level.textContent = `${t("level")} ${message.evacuation_level}`;
        badges.appendChild(level);
      }
      if (message.status === "Exercise" || message.status === "Test") {
        const drill = document.createElement("span");
        drill.className = "badge exercise";
        drill.textContent = t(message.status === "Exercise" ? "resident.exercise" : "resident.test");
        badges.append(" ", drill);
      }
      const description = document.createElement("p");
      description.className = "description";
      description.textContent = cancelled ? t("resident.cancelled") : message.description;
      card.append(heading, badges, description);
      if (message.instruction && !cancelled) {
        const instruction = document.createElement("p");
        instruction.className = "instruction";
        const strong = document.createElement("strong");
        strong.textContent = message.instruction;
        instruction.appendChild(strong);
        card.appendChild(instruction);
      }
      if (!cancelled) {
        renderShelters(card, message);
        const safe = document.createElement("button");
        safe.type = "button";
        safe.className = "safe";
        if (done.has(message.alert_id)) {
          safe.disabled = true;
          safe.textContent = t("resident.safe.sent");
        } else {
          safe.textContent = t("resident.safe");
          safe.addEventListener("click", () => acknowledge(message.alert_id));
        }
        card.appendChild(safe);
      }
      box.appendChild(card);
    }
    $("no-alerts").classList.toggle("hidden", active.length > 0);
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    map = Kizuna.makeMap("map", [36.2, 138.25], 5);
    markers = L.layerGroup().addTo(map);
    map.on("click", (event) => setPoint(event.latlng.lat, event.latlng.lng));
    $("add-place").addEventListener("click", addPlace);
    $("locate").addEventListener("click", () => {
      if (!navigator.geolocation) return;
      navigator.geolocation.getCurrentPosition((pos) => {
        setPoint(pos.coords.latitude, pos.coords.longitude);
        map.setView([pos.coords.latitude, pos.coords.longitude], 14);
      });
    });
    $("register-form").addEventListener("submit", register);
    $("forget").addEventListener("click", forget);
    document.addEventListener("kizuna:language", () => {
      renderPlaces();
      renderAlerts();
    });
    renderPlaces();
    const subscription = stored();
    if (subscription) showRegistered(subscription);
  });
})();
