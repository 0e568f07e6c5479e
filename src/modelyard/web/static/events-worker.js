// modelyard's one event connection per browser: a SharedWorker every tab of the site talks to.
//
// Each tab (a port) says which channels it follows and whether it is visible. The worker
// keeps ONE EventSource on GET /api/events for the union of the channels of all tabs, and hands
// each message to the tabs that follow its channel. When no tab is visible the connection is
// closed (a hidden tab costs the server nothing); when one shows again, or the set of channels
// changes, it is reopened with ?last= the last event id of each channel, so every channel
// resumes where it stopped (a tab may say where its data ends, for a channel not open yet). Tabs say goodbye on pagehide; a tab that vanished without one is dropped
// when a message to it fails or it misses two pings (a port cannot tell that it was closed).
"use strict";
const tabs = new Map(); // port -> {channels: Set, visible: bool, seen: number}
let source = null;
let openKey = "";
const ids = new Map(); // channel -> its last event id (what a reopened stream resumes from)
let live = false;

function union() {
  const channels = new Set();
  let anyVisible = false;
  for (const tab of tabs.values()) {
    if (tab.visible) anyVisible = true;
    for (const c of tab.channels) channels.add(c);
  }
  return anyVisible ? [...channels].sort() : [];
}

function tell(port, message) {
  try { port.postMessage(message); } catch (e) { tabs.delete(port); }
}

function setLive(on) {
  live = on;
  for (const port of tabs.keys()) tell(port, { type: "status", live: on, open: !!source });
}

function update() {
  const channels = union();
  const key = channels.join(",");
  if (key === openKey && (source || !key)) return;
  if (source) { source.close(); source = null; }
  openKey = key;
  if (!key) { setLive(false); return; }
  const query = channels.map((c) => "channel=" + encodeURIComponent(c));
  const last = channels.filter((c) => ids.has(c)).map((c) => c + "~" + ids.get(c)).join("|");
  if (last) query.push("last=" + encodeURIComponent(last));
  source = new EventSource("/api/events?" + query.join("&"));
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false);
  source.onmessage = (event) => {
    for (const part of (event.lastEventId || "").split("|")) {
      const cut = part.indexOf("~");
      if (cut > 0) ids.set(part.slice(0, cut), part.slice(cut + 1));
    }
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    for (const [port, tab] of tabs) {
      if (tab.channels.has(message.channel)) tell(port, { type: "event", message: message });
    }
  };
}

function sweep() {
  const now = Date.now();
  for (const [port, tab] of tabs) if (now - tab.seen > 70_000) tabs.delete(port);
  update();
}
setInterval(sweep, 30_000);

self.onconnect = (connect) => {
  const port = connect.ports[0];
  tabs.set(port, { channels: new Set(), visible: true, seen: Date.now() });
  port.onmessage = (event) => {
    const data = event.data || {};
    const tab = tabs.get(port) || { channels: new Set(), visible: true, seen: 0 };
    tab.seen = Date.now();
    if (data.type === "bye") { tabs.delete(port); update(); return; }
    if (Array.isArray(data.channels)) tab.channels = new Set(data.channels.map(String).slice(0, 16));
    if (typeof data.visible === "boolean") tab.visible = data.visible;
    // where a tab's data ends (a chart's last point): a channel new to the worker starts there
    for (const [c, id] of Object.entries(data.since || {})) {
      if (!ids.has(c) && /^[0-9A-Za-z_.:-]{1,64}$/.test(String(id))) ids.set(c, String(id));
    }
    tabs.set(port, tab);
    update();
    tell(port, { type: "status", live: live, open: !!source });
  };
  port.start();
};
