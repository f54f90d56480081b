// The service worker: shows a notification for each Web Push message and opens the page on tap.
"use strict";

// Payloads are JSON: an alert (headline, instruction, description, event, severity ...) or a
// dispatch / mutual-aid step ({type, title, body, url}); anything else is shown as plain text.
function notificationFrom(data) {
  let message;
  try {
    message = data ? data.json() : {};
  } catch (_) {
    message = { body: data ? data.text() : "" };
  }
  const title = message.headline || message.title || message.event || "Kizuna";
  const body = message.instruction || message.body || message.description || "";
  return {
    title,
    options: {
      body,
      lang: message.language || undefined,
      // One notification per alert: an update replaces the older one instead of piling up.
      tag: message.identifier || message.alert_id || message.request_id || message.dispatch_id || undefined,
      renotify: true,
      requireInteraction: message.severity === "Extreme",
      data: { url: message.url || "/" },
    },
  };
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationFrom(event.data);
  event.waitUntil(self.registration.showNotification(title, options));
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
