// nb2pipe runs --html: sortable tables and SVG plots, drawn from each section's JSON.
// No libraries and no network: the page works opened from disk.
"use strict";
(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const WIDTH = 560;
  const HEIGHT = 280;
  const MARGIN = { left: 64, right: 20, top: 14, bottom: 46 };

  function svgElement(name, attributes, parent) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes || {})) {
      element.setAttribute(key, String(value));
    }
    if (parent) parent.appendChild(element);
    return element;
  }

  function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "-";
    if (typeof value === "number") {
      if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-4)) {
        return value.toPrecision(4);
      }
      const text = value.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
      return text === "-0" || text === "" ? "0" : text;
    }
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // About `count` round tick values covering [low, high].
  function ticks(low, high, count) {
    if (low === high) return [low];
    const rough = (high - low) / count;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough) || rough;
    const out = [];
    for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) {
      out.push(Number(tick.toPrecision(12)));
    }
    return out;
  }

  function linear(domainLow, domainHigh, rangeLow, rangeHigh) {
    if (domainHigh === domainLow) return () => (rangeLow + rangeHigh) / 2;
    const factor = (rangeHigh - rangeLow) / (domainHigh - domainLow);
    return (value) => rangeLow + (value - domainLow) * factor;
  }

  // Tick values of a log axis covering [low, high] (both > 0): the powers of ten, and 2 and
  // 5 times them when the range spans few decades.
  function logTicks(low, high) {
    const first = Math.floor(Math.log10(low));
    const last = Math.ceil(Math.log10(high));
    const factors = last - first <= 3 ? [1, 2, 5] : [1];
    const out = [];
    for (let power = first; power <= last; power += 1) {
      for (const factor of factors) {
        const tick = Number((factor * Math.pow(10, power)).toPrecision(12));
        if (tick >= low * (1 - 1e-9) && tick <= high * (1 + 1e-9)) out.push(tick);
      }
    }
    return out;
  }

  // A parameter whose values are all positive and span two decades or more (0.01 ... 10) is
  // drawn on a log axis: on a linear one most points would bunch at 0.
  function spansDecades(values) {
    if (!values.length || values.some((value) => !isNumber(value) || value <= 0)) return false;
    return Math.max(...values) / Math.min(...values) >= 100;
  }

  function padded(values) {
    const low = Math.min(...values);
    const high = Math.max(...values);
    const pad = low === high ? Math.abs(low) * 0.05 || 1 : (high - low) * 0.08;
    return [low - pad, high + pad];
  }

  // Draw points {x, y, label, flagged} into svg; x may be text (then one slot per value).
  function plot(svg, points, options) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    const left = MARGIN.left;
    const right = WIDTH - MARGIN.right;
    const top = MARGIN.top;
    const bottom = HEIGHT - MARGIN.bottom;
    const categorical = points.some((point) => !isNumber(point.x));
    const logX = !categorical && !options.integerX && spansDecades(points.map((point) => point.x));
    svg.dataset.xScale = logX ? "log" : "linear";
    svgElement("text", { x: (left + right) / 2, y: HEIGHT - 8, class: "axis-label",
      "text-anchor": "middle" }, svg).textContent = options.xLabel + (logX ? " (log scale)" : "");
    svgElement("text", { x: 14, y: (top + bottom) / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(-90 14 ${(top + bottom) / 2})` }, svg).textContent = options.yLabel;
    if (!points.length) {
      svgElement("text", { x: (left + right) / 2, y: (top + bottom) / 2, "text-anchor": "middle",
        class: "empty" }, svg).textContent = "no run has both values";
      return;
    }
    let xOf;
    let xTicks;
    if (categorical) {
      const categories = [...new Set(points.map((point) => formatValue(point.x)))].sort();
      const slot = (right - left) / categories.length;
      xOf = (value) => left + slot * (categories.indexOf(formatValue(value)) + 0.5);
      xTicks = categories.map((category) => [category, category]);
    } else if (logX) {
      const logs = points.map((point) => Math.log10(point.x));
      const [low, high] = padded(logs);
      const scale = linear(low, high, left, right);
      xOf = (value) => scale(Math.log10(value));
      xTicks = logTicks(Math.pow(10, low), Math.pow(10, high))
        .map((value) => [value, formatValue(value)]);
    } else {
      const [low, high] = padded(points.map((point) => point.x));
      const scale = linear(low, high, left, right);
      xOf = scale;
      const values = options.integerX
        ? ticks(Math.ceil(low), Math.floor(high), 8).filter(Number.isInteger)
        : ticks(low, high, 6);
      xTicks = values.map((value) => [value, formatValue(value)]);
    }
    const [yLow, yHigh] = padded(points.map((point) => point.y));
    const yOf = linear(yLow, yHigh, bottom, top);
    for (const value of ticks(yLow, yHigh, 5)) {
      const y = yOf(value);
      svgElement("line", { x1: left, x2: right, y1: y, y2: y, class: "grid" }, svg);
      svgElement("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, svg)
        .textContent = formatValue(value);
    }
    for (const [value, label] of xTicks) {
      const x = xOf(value);
      svgElement("line", { x1: x, x2: x, y1: bottom, y2: bottom + 4, class: "axis" }, svg);
      svgElement("text", { x: x, y: bottom + 17, "text-anchor": "middle", class: "tick" }, svg)
        .textContent = label.length > 14 ? label.slice(0, 13) + "…" : label;
    }
    svgElement("line", { x1: left, x2: right, y1: bottom, y2: bottom, class: "axis" }, svg);
    svgElement("line", { x1: left, x2: left, y1: top, y2: bottom, class: "axis" }, svg);
    if (options.connect && points.length > 1) {
      const path = points.map((point) => `${xOf(point.x)},${yOf(point.y)}`).join(" ");
      svgElement("polyline", { points: path, class: "trend-line" }, svg);
    }
    for (const point of points) {
      const circle = svgElement("circle", {
        cx: xOf(point.x), cy: yOf(point.y), r: 5,
        class: "point" + (point.flagged ? " flagged" : "") + (point.best ? " best" : ""),
        "data-run": point.number,
      }, svg);
      svgElement("title", {}, circle).textContent = point.label;
    }
  }

  function setUpScatter(section, data) {
    const svg = section.querySelector("svg.scatter");
    const metricSelect = section.querySelector("select.metric");
    const paramSelect = section.querySelector("select.param");
    if (!svg || !metricSelect || !paramSelect) return;
    function draw() {
      const metric = metricSelect.value;
      const param = paramSelect.value;
      const points = [];
      for (const run of data.runs) {
        const y = run.metrics[metric];
        const x = param === "#" ? run.number : run.params[param];
        if (!isNumber(y) || x === undefined) continue;
        const shown = param === "#" ? "" : `, ${param}=${formatValue(x)}`;
        points.push({ x: x, y: y, number: run.number, flagged: run.flagged, best: run.best,
          label: `run ${run.number}: ${run.label}${shown}, ${metric}=${formatValue(y)}`
            + (run.best ? " (best)" : "") });
      }
      plot(svg, points, { xLabel: param === "#" ? "run" : param, yLabel: metric,
        integerX: param === "#" });
    }
    metricSelect.addEventListener("change", draw);
    paramSelect.addEventListener("change", draw);
    draw();
  }

  function setUpTrends(section, data) {
    const byStart = [...data.runs].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const svg of section.querySelectorAll("svg.trend")) {
      const metric = svg.dataset.metric;
      const points = [];
      byStart.forEach((run, index) => {
        const y = run.metrics[metric];
        if (!isNumber(y)) return;
        points.push({ x: index + 1, y: y, number: run.number, flagged: run.flagged,
          best: run.best,
          label: `run ${run.number}: ${run.label}, ${run.start}, ${metric}=${formatValue(y)}`
            + (run.best ? " (best)" : "") });
      });
      plot(svg, points, { xLabel: "runs, oldest first", yLabel: metric, connect: true,
        integerX: true });
    }
  }

  function setUpSorting(table) {
    const body = table.tBodies[0];
    table.querySelectorAll("th").forEach((header, column) => {
      header.addEventListener("click", () => {
        const ascending = header.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th").forEach((other) => other.removeAttribute("aria-sort"));
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const rows = [...body.rows];
        const key = (row) => row.cells[column].dataset.sort ?? row.cells[column].textContent;
        rows.sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          if (x === "" || y === "") return x === y ? 0 : x === "" ? 1 : -1;  // blanks last
          const [nx, ny] = [Number(x), Number(y)];
          const order = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  }

  for (const section of document.querySelectorAll("section.experiment")) {
    const data = JSON.parse(section.querySelector("script.run-data").textContent);
    setUpScatter(section, data);
    setUpTrends(section, data);
    section.querySelectorAll("table.runs").forEach(setUpSorting);
  }
  document.body.dataset.ready = "true";
})();
