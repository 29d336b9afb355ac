// The Mandelbrot client: strips fetched in parallel, drawn as they arrive, coloured by pod.
"use strict";

const FULL = { x_min: -2.5, x_max: 1.0, y_min: -1.25, y_max: 1.25 };
const DEFAULTS = { ...FULL, width: 800, height: 572, max_iter: 500, parts: 8 };
const STRIPE = 6; // width of the pod-colour bar drawn at the left of every strip

const form = document.getElementById("controls");
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const selection = document.getElementById("selection");
const statusLine = document.getElementById("status");
const partsBody = document.querySelector("#parts tbody");
const podList = document.getElementById("pods");

const podColours = new Map();
let generation = 0;

function podColour(name) {
  if (!podColours.has(name)) {
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    const hue = (hash * 137.508) % 360;
    podColours.set(name, `hsl(${hue.toFixed(0)}, 85%, 60%)`);
  }
  return podColours.get(name);
}

function readForm() {
  const data = new FormData(form);
  const view = {};
  for (const key of Object.keys(DEFAULTS)) {
    const value = Number(data.get(key));
    view[key] = Number.isFinite(value) && String(data.get(key)).trim() !== "" ? value : DEFAULTS[key];
  }
  return sized(view);
}

// Whole pixels, and between one part and one part per row: from the form and from the URL.
function sized(view) {
  view.width = Math.max(1, Math.round(view.width));
  view.height = Math.max(1, Math.round(view.height));
  view.parts = Math.min(Math.max(1, Math.round(view.parts)), view.height);
  return view;
}

function writeForm(view) {
  for (const [key, value] of Object.entries(view)) {
    const input = form.elements.namedItem(key);
    if (input) input.value = typeof value === "number" && !Number.isInteger(value) ? value.toPrecision(17).replace(/\.?0+$/, "") : value;
  }
}

function viewFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const view = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key) && Number.isFinite(Number(params.get(key)))) view[key] = Number(params.get(key));
  }
  return sized(view);
}

function hashOf(view) {
  return "#" + new URLSearchParams(Object.entries(view).map(([k, v]) => [k, String(v)])).toString();
}

function stripsOf(view) {
  const dy = (view.y_max - view.y_min) / view.height;
  const strips = [];
  for (let i = 0; i < view.parts; i++) {
    const row0 = Math.floor((i * view.height) / view.parts);
    const row1 = Math.floor(((i + 1) * view.height) / view.parts);
    if (row1 > row0) {
      strips.push({ index: i, row0, rows: row1 - row0, y_max: view.y_max - row0 * dy, y_min: view.y_max - row1 * dy });
    }
  }
  return strips;
}

function addRow(strip) {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td>${strip.index + 1}</td><td>${strip.row0}–${strip.row0 + strip.rows - 1}</td>` +
    `<td class="pod">…</td><td>…</td><td>…</td>`;
  partsBody.appendChild(tr);
  return tr;
}

function showPods(counts) {
  podList.replaceChildren(...[...counts.entries()].map(([name, n]) => {
    const li = document.createElement("li");
    li.style.background = podColour(name);
    li.textContent = `${name}: ${n}`;
    return li;
  }));
}

async function render(view) {
  const mine = ++generation;
  shown = view;
  canvas.width = view.width;
  canvas.height = view.height;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, view.width, view.height);
  partsBody.replaceChildren();
  const counts = new Map();
  showPods(counts);
  history.replaceState(null, "", hashOf(view));
  document.body.dataset.state = "rendering";
  const started = performance.now();
  let done = 0;
  let failed = 0;
  statusLine.textContent = `rendering ${view.parts} parts…`;
  const jobs = stripsOf(view).map(async (strip) => {
    const row = addRow(strip);
    const query = new URLSearchParams({
      x_min: view.x_min, x_max: view.x_max, y_min: strip.y_min, y_max: strip.y_max,
      width: view.width, height: strip.rows, max_iter: view.max_iter, format: "png",
    });
    const t0 = performance.now();
    try {
      const response = await fetch(`api/v1/render?${query}`);
      if (!response.ok) {
        const body = await response.json().catch(() => ({ error: response.statusText }));
        throw new Error(body.error || response.statusText);
      }
      const pod = response.headers.get("X-Served-By") || "?";
      const timing = /compute;dur=([\d.]+)/.exec(response.headers.get("Server-Timing") || "");
      const bitmap = await createImageBitmap(await response.blob());
      if (mine !== generation) return;
      const elapsed = performance.now() - t0;
      ctx.drawImage(bitmap, 0, strip.row0);
      ctx.fillStyle = podColour(pod);
      ctx.fillRect(0, strip.row0, STRIPE, strip.rows);
      counts.set(pod, (counts.get(pod) || 0) + 1);
      showPods(counts);
      row.cells[2].innerHTML = `<span class="swatch" style="background:${podColour(pod)}"></span>`;
      row.cells[2].append(pod);
      row.cells[3].textContent = elapsed.toFixed(1);
      row.cells[4].textContent = timing ? Number(timing[1]).toFixed(1) : "–";
    } catch (error) {
      if (mine !== generation) return;
      failed++;
      row.classList.add("failed");
      row.cells[2].textContent = String(error.message || error);
    } finally {
      if (mine === generation) {
        done++;
        statusLine.textContent = `${done}/${view.parts} parts, ${(performance.now() - started).toFixed(0)} ms` +
          (failed ? `, ${failed} failed` : "");
      }
    }
  });
  await Promise.all(jobs);
  if (mine === generation) document.body.dataset.state = failed ? "failed" : "done";
}

// Keeps the pixel aspect ratio square: the y range follows the x range and the canvas shape.
function zoomTo(view, cx, cy, xSpan) {
  const ySpan = (xSpan * view.height) / view.width;
  return { ...view, x_min: cx - xSpan / 2, x_max: cx + xSpan / 2, y_min: cy - ySpan / 2, y_max: cy + ySpan / 2 };
}

function planeAt(view, px, py) {
  return [
    view.x_min + (px / view.width) * (view.x_max - view.x_min),
    view.y_max - (py / view.height) * (view.y_max - view.y_min),
  ];
}

function canvasPoint(event) {
  const rect = canvas.getBoundingClientRect();
  return [
    ((event.clientX - rect.left) / rect.width) * canvas.width,
    ((event.clientY - rect.top) / rect.height) * canvas.height,
  ];
}

// Zooms act on the view the canvas shows, not on the form, which may hold unrendered edits.
let shown = null;
// A press that moves less than this (CSS pixels) on both axes is a click, not a rectangle.
const DRAG_MIN = 4;

let drag = null;
canvas.addEventListener("mousedown", (event) => {
  if (event.button !== 0 || !shown) return;
  event.preventDefault(); // no text selection while dragging across the page
  drag = { start: canvasPoint(event), client: [event.clientX, event.clientY], shift: event.shiftKey };
});

function dragged(press, event) {
  const [x0, y0] = press.client;
  return Math.abs(event.clientX - x0) >= DRAG_MIN || Math.abs(event.clientY - y0) >= DRAG_MIN;
}

window.addEventListener("mousemove", (event) => {
  if (!drag) return;
  const [x0, y0] = drag.client;
  const stage = canvas.getBoundingClientRect();
  selection.hidden = !dragged(drag, event);
  Object.assign(selection.style, {
    left: `${Math.min(x0, event.clientX) - stage.left}px`, top: `${Math.min(y0, event.clientY) - stage.top}px`,
    width: `${Math.abs(event.clientX - x0)}px`, height: `${Math.abs(event.clientY - y0)}px`,
  });
});
window.addEventListener("mouseup", (event) => {
  if (!drag || event.button !== 0) return;
  const current = drag;
  drag = null;
  selection.hidden = true;
  const view = shown;
  const [px0, py0] = current.start;
  const [px1, py1] = canvasPoint(event);
  let next;
  if (dragged(current, event)) {
    // The smallest view with square pixels that holds the whole rectangle, centred on it.
    const [ax, ay] = planeAt(view, Math.min(px0, px1), Math.min(py0, py1));
    const [bx, by] = planeAt(view, Math.max(px0, px1), Math.max(py0, py1));
    next = zoomTo(view, (ax + bx) / 2, (ay + by) / 2, Math.max(bx - ax, ((ay - by) * view.width) / view.height));
  } else if (event.target === canvas) {
    const [cx, cy] = planeAt(view, px0, py0);
    const factor = current.shift || event.shiftKey ? 4 : 0.25;
    next = zoomTo(view, cx, cy, (view.x_max - view.x_min) * factor);
  } else {
    return;
  }
  writeForm(next);
  // A history entry per zoom: Back returns to the previous view (see "popstate").
  history.pushState(null, "", hashOf(next));
  render(next);
});

window.addEventListener("popstate", () => {
  const view = viewFromHash();
  writeForm(view);
  render(view);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  render(readForm());
});
document.getElementById("reset").addEventListener("click", () => {
  const view = zoomTo(readForm(), -0.75, 0, FULL.x_max - FULL.x_min);
  writeForm(view);
  render(view);
});

const initial = viewFromHash();
writeForm(initial);
render(initial);
