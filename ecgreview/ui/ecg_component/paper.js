// The ECG paper, drawn as SVG from what ecgreview/ui/ecg_component/payload.py sends.
// Coordinates arrive in mm of paper (origin lower-left, y up); the SVG's viewBox is the paper in mm,
// y flipped, so the box's CSS width alone sets the scale. Strings are set with textContent only.
const SVG = "http://www.w3.org/2000/svg";

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function decode(text) {
  const bytes = Uint8Array.from(atob(text), character => character.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function linePath(xs, ys, top) {
  // One path; a NaN (a gap in the recording) starts a new subpath.
  let d = "", pen = false;
  for (let index = 0; index < xs.length; index++) {
    const x = xs[index], y = ys[index];
    if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    d += (pen ? "L" : "M") + x.toFixed(3) + "," + (top - y).toFixed(3);
    pen = true;
  }
  return d;
}

function gridPath(step, widthMm, bottomMm, topMm, skip) {
  // Lines every `step` mm from the paper's origin; `skip` leaves out every skip-th (the major lines).
  let d = "";
  for (let index = 0; index * step <= widthMm + 1e-6; index++) {
    if (!skip || index % skip) d += `M${(index * step).toFixed(3)},0V${(topMm - bottomMm).toFixed(3)}`;
  }
  for (let index = Math.ceil(bottomMm / step); index * step <= topMm + 1e-6; index++) {
    if (!skip || index % skip) d += `M0,${(topMm - index * step).toFixed(3)}H${widthMm.toFixed(3)}`;
  }
  return d;
}

function draw(svg, data) {
  const top = data.height_mm - data.caption_mm;  // paper y of the SVG's y = 0
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${data.width_mm} ${data.height_mm}`);
  element("rect", {class: "ecg-paper-background", x: 0, y: 0, width: data.width_mm, height: data.height_mm}, svg);
  element("path", {class: "ecg-grid-minor", d: gridPath(1, data.width_mm, -data.caption_mm, top, 5)}, svg);
  element("path", {class: "ecg-grid-major", d: gridPath(5, data.width_mm, -data.caption_mm, top, 0)}, svg);
  const traces = element("g", {class: "ecg-traces"}, svg);
  const texts = element("g", {class: "ecg-texts"}, svg);
  data.pulses.forEach((pulse, row) => {
    element("path", {class: "ecg-line ecg-pulse", d: linePath(pulse[0], pulse[1], top)}, traces);
    for (const segment of data.segments.filter(item => item.row === row)) {
      element("path", {class: "ecg-line ecg-lead", "data-lead": segment.label,
                       d: linePath(decode(segment.x), decode(segment.y), top)}, traces);
      if (segment.separator) {
        element("path", {class: "ecg-separator",
                         d: `M${segment.x_mm},${top - segment.baseline_mm - 3}V${top - segment.baseline_mm + 3}`},
                traces);
      }
      const label = element("text", {class: "ecg-label", x: segment.label_x_mm, y: top - segment.label_y_mm}, texts);
      label.textContent = segment.label;
    }
  });
  const caption = element("text", {class: "ecg-caption", x: 1, y: top + data.caption_mm / 2}, texts);
  caption.textContent = data.caption;
  svg.dataset.drawn = data.id;
}

function fitText(svg, widthMm) {
  // Labels and caption keep their size in CSS px (13 and 12), whatever the paper's scale.
  const pixelsPerMm = svg.getBoundingClientRect().width / widthMm;
  if (!(pixelsPerMm > 0)) return;
  svg.style.setProperty("--ecg-label-size", `${13 / pixelsPerMm}px`);
  svg.style.setProperty("--ecg-caption-size", `${12 / pixelsPerMm}px`);
}

export default function (component) {
  const {data, parentElement} = component;
  let svg = parentElement.querySelector("svg.ecg-paper-svg");
  if (!svg) {
    svg = element("svg", {class: "ecg-paper-svg", preserveAspectRatio: "xMinYMin meet"}, null);
    parentElement.appendChild(svg);
  }
  if (data && svg.dataset.drawn !== data.id) draw(svg, data);
  svg.__widthMm = data ? data.width_mm : svg.__widthMm;
  if (!svg.__observer) {
    svg.__observer = new ResizeObserver(() => fitText(svg, svg.__widthMm));
    svg.__observer.observe(svg);
  }
  fitText(svg, svg.__widthMm);
  return () => { if (svg.__observer) { svg.__observer.disconnect(); svg.__observer = null; } };
}
