// Shared by every page: UI translations, the page config, API calls and field errors.
"use strict";

const Kizuna = (() => {
  const LANG_KEY = "kizuna.lang";
  let dictionary = {};
  let config = { map_tile_url: null, map_attribution: "", ui_languages: ["ja", "en"] };

  // Japanese first: a device set to anything else falls back to it unless it prefers English.
  function uiLanguage() {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && config.ui_languages.includes(saved)) return saved;
    const wanted = (navigator.language || "ja").slice(0, 2);
    return config.ui_languages.includes(wanted) ? wanted : "ja";
  }

  function t(key, params) {
    let text = dictionary[key] || key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.replace(`{${name}}`, String(value));
    }
    return text;
  }

  function applyTranslations(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    document.title = t(document.body.dataset.titleKey || "app.title");
  }

  async function setLanguage(lang) {
    const response = await fetch(`/static/i18n/${lang}.json`);
    dictionary = await response.json();
    localStorage.setItem(LANG_KEY, lang);
    document.documentElement.lang = lang;
    applyTranslations();
    document.dispatchEvent(new CustomEvent("kizuna:language", { detail: lang }));
  }

  async function init() {
    try {
      const response = await fetch("/api/v1/web/config");
      if (response.ok) config = await response.json();
    } catch (_) {
      // Keep the defaults: the page still works with a blank map.
    }
    const picker = document.getElementById("ui-language");
    const lang = uiLanguage();
    if (picker) {
      picker.value = lang;
      picker.addEventListener("change", () => setLanguage(picker.value));
    }
    await setLanguage(lang);
    return config;
  }

  // Every call returns {ok, status, data}; the error shape is {error: {code, message, field}}.
  async function api(method, path, { body, token, form, headers: extra } = {}) {
    const headers = { ...(extra || {}) };
    let payload;
    if (form) {
      payload = new URLSearchParams(form);
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload });
    } catch (err) {
      return { ok: false, status: 0, data: { error: { code: "network", message: String(err) } } };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
    }
    return { ok: response.ok, status: response.status, data };
  }

  // Show the API's error beside the field it names (elements carry data-field), else in `fallback`.
  function showError(form, error, fallback) {
    clearErrors(form);
    if (!error) return;
    const field = error.field || "";
    let target = null;
    if (field) {
      // Try the exact path, then its parents: info[1].headline → info[1] → info.
      let path = field;
      while (path && !target) {
        target = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
        const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
        path = cut > 0 ? path.slice(0, cut) : "";
      }
    }
    const box = document.createElement("p");
    box.className = "field-error";
    box.setAttribute("role", "alert");
    box.textContent = error.message || error.code;
    if (target) {
      target.insertAdjacentElement("afterend", box);
      target.setAttribute("aria-invalid", "true");
    } else {
      (fallback || form).appendChild(box);
    }
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  // A Leaflet map that needs no outside network: tiles only when the deployment names a source.
  function makeMap(elementId, center, zoom) {
    const map = L.map(elementId, { zoomControl: true }).setView(center, zoom);
    if (config.map_tile_url) {
      L.tileLayer(config.map_tile_url, { attribution: config.map_attribution, maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function escapeText(value) {
    const span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span.innerHTML;
  }

  // A fill bar people can read and screen readers can announce.
  function fillBar(occupancy, capacity) {
    const bar = document.createElement("div");
    bar.className = "fill";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", String(capacity || 0));
    bar.setAttribute("aria-valuenow", String(occupancy));
    bar.setAttribute("aria-label", `${occupancy} / ${capacity == null ? "?" : capacity}`);
    const inner = document.createElement("div");
    const share = capacity ? Math.min(occupancy / capacity, 1) : 0;
    inner.style.width = `${Math.round(share * 100)}%`;
    inner.className = share >= 1 ? "full" : share >= 0.8 ? "high" : "";
    bar.appendChild(inner);
    return bar;
  }

  // The staff pages' login form: keep the bearer token for this tab, then start the page.
  async function logIn(event, start) {
    event.preventDefault();
    const form = document.getElementById("login-form");
    const password = document.getElementById("password");
    const result = await api("POST", "/api/v1/auth/token", {
      form: { username: document.getElementById("username").value, password: password.value },
    });
    if (!result.ok) {
      const error = (result.data && result.data.error) || { message: `HTTP ${result.status}` };
      showError(form, { ...error, field: error.field || "password" });
      return;
    }
    clearErrors(form);
    sessionStorage.setItem("kizuna.token", result.data.access_token);
    password.value = "";
    await start();
  }

  // base64url (a VAPID public key's encoding) to the bytes PushManager.subscribe wants.
  function keyBytes(base64url) {
    const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  return { init, t, api, showError, clearErrors, makeMap, applyTranslations, escapeText, fillBar,
    logIn, keyBytes,
    get config() { return config; }, get lang() { return document.documentElement.lang; } };
})();
