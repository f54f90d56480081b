// The service worker: shows a notification for each Web Push message and opens the page on tap.
"use strict";

// Payloads are JSON: an alert (headline, instruction, description, event, severity ...), a
// dispatch offer ({type: "dispatch.offer", dispatch_id, kind, description, distance_m,
// respond_within_s}), a mutual-aid step ({type: "aid.request", request_id, state}) or any
// message with {title, body, url}; anything else is shown as plain text.
function parse(data) {
  try {
    return data ? data.json() : {};
  } catch (_) {
    return { body: data ? data.text() : "" };
  }
}

// The worker has no page dictionary and cannot know who holds the phone: Japanese first,
// English after it, as on the municipality's loudspeakers.
function dispatchOffer(message) {
  const parts = [];
  if (typeof message.distance_m === "number") {
    parts.push(`${(message.distance_m / 1000).toFixed(1)} km`);
  }
  if (typeof message.respond_within_s === "number") {
    const minutes = Math.max(1, Math.round(message.respond_within_s / 60));
    parts.push(`${minutes} 分以内に回答 (answer within ${minutes} min)`);
  }
  return {
    title: `出動要請 Dispatch: ${message.description || message.kind || ""}`.trim(),
    body: parts.join(" · "),
    lang: "ja",
    tag: `dispatch:${message.dispatch_id}`,
    url: "/responder",
    requireInteraction: true,
  };
}

function aidStep(message) {
  return {
    title: "助け合い Mutual aid",
    body: `依頼の状態 (request): ${message.state || ""}`,
    lang: "ja",
    tag: `aid:${message.request_id}`,
    url: message.url || "/",
    requireInteraction: false,
  };
}

function notificationFrom(data) {
  const message = parse(data);
  let shown;
  if (message.type === "dispatch.offer") {
    shown = dispatchOffer(message);
  } else if (message.type === "aid.request") {
    shown = aidStep(message);
  } else {
    shown = {
      title: message.headline || message.title || message.event || "Kizuna",
      body: message.instruction || message.body || message.description || "",
      lang: message.language || undefined,
      // One notification per alert: an update replaces the older one instead of piling up.
      tag: message.identifier || message.alert_id || message.request_id || message.dispatch_id || undefined,
      url: message.url || "/",
      requireInteraction: message.severity === "Extreme",
    };
  }
  return {
    title: shown.title,
    options: {
      body: shown.body,
      lang: shown.lang,
      tag: shown.tag,
      renotify: Boolean(shown.tag),
      requireInteraction: shown.requireInteraction,
      data: { url: shown.url },
    },
  };
}

// An alert push carries a receipt token: sending it back tells the officer it reached the phone.
// A failed receipt is not retried; the alert itself is what matters and it is already shown.
function confirm(data) {
  const message = parse(data);
  if (!message.receipt) return Promise.resolve();
  return fetch("/api/v1/receipts", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ receipt: message.receipt }),
  }).catch(() => undefined);
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationFrom(event.data);
  event.waitUntil(Promise.all([self.registration.showNotification(title, options), confirm(event.data)]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (new URL(client.url).pathname === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});
