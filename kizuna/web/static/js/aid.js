// Resident page additions: ask for help (mutual aid) and follow it live; enable Web Push.
// Kept apart from resident.js: it only reads the registration resident.js stores.
"use strict";

(() => {
  const STORE = "kizuna.subscription";
  const REQUESTS = "kizuna.aid.requests";
  const OPEN = ["open", "claimed"];
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  const requests = new Map(); // id -> {id, kind, description, state}
  let socket = null;
  let backoff = 1;

  function stored() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "null");
    } catch (_) {
      return null;
    }
  }

  function remember() {
    localStorage.setItem(REQUESTS, JSON.stringify([...requests.keys()]));
  }

  function render() {
    const list = $("aid-requests");
    list.replaceChildren();
    for (const request of requests.values()) {
      const item = document.createElement("li");
      item.className = "aid-mine";
      item.dataset.request = request.id;
      const text = document.createElement("span");
      text.className = "aid-state";
      text.textContent = `${t(`aid.kind.${request.kind}`)}: ${t(`aid.state.${request.state}`)}`;
      item.appendChild(text);
      if (OPEN.includes(request.state)) {
        const cancel = document.createElement("button");
        cancel.type = "button";
        cancel.className = "secondary";
        cancel.textContent = t("aid.cancel");
        cancel.addEventListener("click", () => cancelRequest(request.id));
        item.append(" ", cancel);
      }
      list.appendChild(item);
    }
  }

  async function ask(event) {
    event.preventDefault();
    const form = $("aid-form");
    const subscription = stored();
    if (!subscription) return;
    Kizuna.clearErrors(form);
    // The first registered place is where help is needed; the API rounds it for volunteers.
    const place = subscription.places[0];
    const body = {
      kind: $("aid-kind").value,
      description: $("aid-description").value,
      lon: place.lon,
      lat: place.lat,
      people: Number($("aid-people").value),
      special_care: $("aid-special-care").checked,
      contact: $("aid-contact").value,
    };
    const result = await Kizuna.api("POST", "/api/v1/aid/requests", { body, token: subscription.token });
    if (!result.ok) {
      Kizuna.showError(form, result.data.error);
      return;
    }
    requests.set(result.data.id, result.data);
    remember();
    $("aid-description").value = "";
    render();
    if (!socket) connect();
  }

  async function cancelRequest(id) {
    const subscription = stored();
    const result = await Kizuna.api("POST", `/api/v1/aid/requests/${id}/cancel`, {
      token: subscription && subscription.token,
    });
    if (result.ok) {
      requests.set(id, result.data);
      render();
    } else {
      Kizuna.showError($("aid-form"), result.data.error);
    }
  }

  async function load() {
    const subscription = stored();
    if (!subscription) return;
    for (const id of JSON.parse(localStorage.getItem(REQUESTS) || "[]")) {
      const result = await Kizuna.api("GET", `/api/v1/aid/requests/${id}`, { token: subscription.token });
      if (result.ok) requests.set(id, result.data);
    }
    remember();
    render();
    connect();
  }

  function connect() {
    const subscription = stored();
    if (!subscription) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/aid?token=${encodeURIComponent(subscription.token)}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "hello") backoff = 1;
      if (message.type !== "aid") return;
      const known = requests.get(message.request_id);
      if (known) {
        known.state = message.state;
        render();
      }
    };
    socket.onclose = (event) => {
      socket = null;
      if (event.code === 1008 || !stored()) return; // registration gone: nothing to follow
      setTimeout(connect, backoff * 1000);
      backoff = Math.min(backoff * 2, 30);
    };
  }

  async function enablePush() {
    const status = $("push-status");
    const subscription = stored();
    if (!subscription) return;
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      status.textContent = t("resident.push.unsupported");
      return;
    }
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        status.textContent = t("resident.push.denied");
        return;
      }
      const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      await navigator.serviceWorker.ready;
      const key = await Kizuna.api("GET", "/api/v1/webpush/public-key");
      if (!key.ok) throw new Error(key.data.error.message);
      const push = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: Kizuna.keyBytes(key.data.public_key),
      });
      const saved = await Kizuna.api("PUT", `/api/v1/subscriptions/${subscription.id}/webpush`, {
        body: push.toJSON(),
        token: subscription.token,
      });
      if (!saved.ok) throw new Error(saved.data.error.message);
      status.textContent = t("resident.push.on");
    } catch (error) {
      status.textContent = String(error.message || error);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    // The help form is shown exactly when resident.js shows the registration.
    const registered = $("registered-section");
    const follow = () => $("aid-form").classList.toggle("hidden", registered.classList.contains("hidden"));
    new MutationObserver(follow).observe(registered, { attributes: true, attributeFilter: ["class"] });
    follow();
    $("aid-form").addEventListener("submit", ask);
    $("enable-push").addEventListener("click", enablePush);
    document.addEventListener("kizuna:language", render);
    // Translations load asynchronously in resident.js's init; the first render waits for them.
    document.addEventListener("kizuna:language", () => {
      if (!requests.size && !socket) load();
    }, { once: true });
  });
})();
