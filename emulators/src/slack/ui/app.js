// The sandbox's Slack look-alike: renders the emulator's channel with Block Kit, sends clicks
// and slash commands as real Socket Mode envelopes through the emulator's /ui endpoints.
"use strict";

const $ = (id) => document.getElementById(id);
let workspace = { channels: [], users: [], controls: [] };
let lastRendered = "";

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function userName(id) {
  const user = workspace.users.find((u) => u.id === id);
  return user ? user.name : id;
}

function channelName(id) {
  const channel = workspace.channels.find((c) => c.id === id);
  return channel ? channel.name : id;
}

// mrkdwn → DOM nodes. Slack's text arrives with &, <, > escaped and special sequences in <…>.
function mrkdwn(text, parent) {
  const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const parts = text.split(/(<[^<>]+>)/);
  for (const part of parts) {
    if (part.startsWith("<") && part.endsWith(">")) {
      parent.appendChild(special(part.slice(1, -1), decode));
    } else if (part) {
      styled(decode(part), parent);
    }
  }
}

function special(inner, decode) {
  const [target, label] = splitOnce(inner, "|");
  const span = document.createElement("span");
  if (target.startsWith("@")) {
    span.className = "mention";
    span.textContent = "@" + userName(target.slice(1));
  } else if (target.startsWith("#")) {
    span.className = "mention";
    span.textContent = "#" + (label || channelName(target.slice(1)));
  } else if (target.startsWith("!subteam^")) {
    span.className = "mention";
    span.textContent = "@" + (label || target.slice(9));
  } else if (target.startsWith("!date^")) {
    const seconds = Number(target.split("^")[1]);
    span.textContent = Number.isFinite(seconds) ? new Date(seconds * 1000).toLocaleString() : decode(label || "");
  } else if (target.startsWith("!")) {
    span.className = "mention";
    span.textContent = "@" + target.slice(1);
  } else if (/^(https?:|mailto:)/.test(target)) {
    const a = document.createElement("a");
    a.href = decode(target);
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    styled(decode(label || target), a);
    return a;
  } else {
    span.textContent = decode(inner);
  }
  return span;
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

const EMOJI = {
  ":white_check_mark:": "\u2705", ":x:": "\u274c", ":hourglass:": "\u231b",
  ":information_source:": "\u2139\ufe0f", ":rocket:": "\ud83d\ude80", ":memo:": "\ud83d\udcdd", ":warning:": "\u26a0\ufe0f",
};

// *bold*, _italic_, ~strike~, `code`, :emoji:, line breaks; everything else as text.
function styled(text, parent) {
  text = text.replace(/:[a-z_]+:/g, (code) => EMOJI[code] || code);
  const blocks = text.split(/```([\s\S]*?)```/);
  if (blocks.length > 1) {
    blocks.forEach((piece, i) => {
      if (i % 2 === 1) {
        const pre = document.createElement("pre");
        pre.textContent = piece;
        parent.appendChild(pre);
      } else if (piece) {
        styled(piece, parent);
      }
    });
    return;
  }
  const pattern = /(`[^`]+`|\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~)/;
  for (const piece of text.split(pattern)) {
    if (!piece) continue;
    const tag = { "`": "code", "*": "b", "_": "i", "~": "s" }[piece[0]];
    if (tag && piece.length > 2 && piece[piece.length - 1] === piece[0]) {
      const el = document.createElement(tag);
      el.textContent = piece.slice(1, -1);
      parent.appendChild(el);
    } else {
      parent.appendChild(document.createTextNode(piece));
    }
  }
}

function textObject(obj, parent) {
  if (!obj) return;
  if (obj.type === "mrkdwn") mrkdwn(obj.text || "", parent);
  else parent.appendChild(document.createTextNode(obj.text || ""));
}

function renderBlock(block, message) {
  const div = document.createElement("div");
  div.className = "block-" + block.type;
  switch (block.type) {
    case "header":
      textObject(block.text, div);
      break;
    case "section": {
      if (block.text) {
        const p = document.createElement("div");
        textObject(block.text, p);
        div.appendChild(p);
      }
      if (block.fields) {
        const grid = document.createElement("div");
        grid.className = "fields";
        for (const field of block.fields) {
          const cell = document.createElement("div");
          textObject(field, cell);
          grid.appendChild(cell);
        }
        div.appendChild(grid);
      }
      break;
    }
    case "context":
      for (const element of block.elements || []) {
        if (element.type === "image") div.appendChild(image(element.image_url, element.alt_text));
        else textObject(element, div);
        div.appendChild(document.createTextNode("  "));
      }
      break;
    case "divider":
      return document.createElement("hr");
    case "image":
      div.appendChild(image(block.image_url, block.alt_text));
      break;
    case "actions":
      for (const element of block.elements || []) {
        if (element.type !== "button") continue;
        const button = document.createElement("button");
        textObject(element.text, button);
        if (element.style) button.className = element.style;
        button.addEventListener("click", () => press(message, element));
        div.appendChild(button);
      }
      break;
    default:
      div.textContent = "[" + block.type + " block]";
  }
  return div;
}

function image(url, alt) {
  const img = document.createElement("img");
  img.src = url;
  img.alt = alt || "";
  return img;
}

async function press(message, button) {
  if (button.confirm && !(await confirmDialog(button.confirm))) return;
  try {
    await api("/ui/click", {
      channel: $("channel").value, ts: message.ts, action_id: button.action_id, user: $("user").value,
    });
  } catch (e) {
    $("control-result").textContent = "click failed: " + e.message;
  }
}

function confirmDialog(confirm) {
  const dialog = $("confirm");
  $("confirm-title").textContent = confirm.title ? confirm.title.text : "Are you sure?";
  $("confirm-text").textContent = confirm.text ? confirm.text.text : "";
  $("confirm-ok").textContent = confirm.confirm ? confirm.confirm.text : "Yes";
  $("confirm-deny").textContent = confirm.deny ? confirm.deny.text : "Cancel";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
  });
}

function renderMessage(message, ephemeral) {
  const div = document.createElement("div");
  div.className = "message" + (ephemeral ? " ephemeral" : "");
  div.dataset.ts = message.ts;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = userName(message.user) + " · " + new Date(Number(message.ts) * 1000).toLocaleTimeString()
    + (message.edited_count ? " (edited)" : "");
  div.appendChild(meta);
  if (ephemeral) {
    const note = document.createElement("div");
    note.className = "only-you";
    note.textContent = "Only visible to you";
    div.appendChild(note);
  }
  if (Array.isArray(message.blocks) && message.blocks.length) {
    for (const block of message.blocks) div.appendChild(renderBlock(block, message));
  } else {
    const p = document.createElement("div");
    p.className = "block-section";
    mrkdwn(message.text || "", p);
    div.appendChild(p);
  }
  for (const file of message.files || []) {
    const f = document.createElement("div");
    f.className = "file";
    f.appendChild(image(file.url, file.title));
    div.appendChild(f);
  }
  return div;
}

async function refresh() {
  const channel = $("channel").value;
  const user = $("user").value;
  if (!channel) return;
  const view = await api(`/ui/channel?channel=${encodeURIComponent(channel)}&user=${encodeURIComponent(user)}`);
  const key = JSON.stringify(view);
  if (key === lastRendered) return;
  lastRendered = key;
  const list = $("messages");
  list.replaceChildren();
  for (const item of view.timeline) {
    const node = renderMessage(item.message, item.ephemeral);
    if (item.replies.length) {
      const thread = document.createElement("div");
      thread.className = "thread";
      for (const reply of item.replies) thread.appendChild(renderMessage(reply, false));
      node.appendChild(thread);
    }
    list.appendChild(node);
  }
  list.scrollTop = list.scrollHeight;
}

async function start() {
  workspace = await api("/ui/workspace");
  for (const c of workspace.channels) $("channel").add(new Option("#" + c.name, c.id));
  for (const u of workspace.users) $("user").add(new Option(u.name, u.id));
  for (const control of workspace.controls) {
    const button = document.createElement("button");
    button.textContent = control.label;
    button.addEventListener("click", async () => {
      $("control-result").textContent = "…";
      try {
        const result = await api("/ui/control/" + control.id, {});
        $("control-result").textContent = result.result;
      } catch (e) {
        $("control-result").textContent = "failed: " + e.message;
      }
    });
    $("controls").appendChild(button);
  }
  $("channel").addEventListener("change", () => { lastRendered = ""; updateTitle(); refresh(); });
  $("user").addEventListener("change", () => { lastRendered = ""; refresh(); });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const line = $("command").value.trim();
    if (!line.startsWith("/")) return;
    const [command, text] = splitOnce(line, " ");
    $("command").value = "";
    try {
      await api("/ui/command", { channel: $("channel").value, user: $("user").value, command, text });
    } catch (e) {
      $("control-result").textContent = "command failed: " + e.message;
    }
    refresh();
  });
  updateTitle();
  await refresh();
  setInterval(() => refresh().catch(() => {}), 700);
}

function updateTitle() {
  $("channel-title").textContent = "#" + channelName($("channel").value);
}

start().catch((e) => { document.body.textContent = "sandbox UI failed to start: " + e.message; });
