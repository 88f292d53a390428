// The timeline as a PNG: each panel's heading, legend and chart (its SVG serialized and drawn
// into a canvas), or the reason it has no chart, stacked in one image.

/** One panel as the image shows it. */
export interface PanelPicture {
  title: string;
  legend: { name: string; colour: string }[];
  /** The chart's SVG as a standalone document, or null when the panel has only `note`. */
  svg: string | null;
  width: number;
  height: number;
  note: string | null;
}

const PAD = 16;
const TITLE = 22;
const LINE = 18;
const BACKGROUND = "#0f172a";
const TEXT = "#e2e8f0";
const MUTED = "#94a3b8";

/** An SVG element as a standalone document (namespaced, sized), ready for an <img>. */
export function standaloneSvg(svg: SVGSVGElement, width: number, height: number): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", String(width));
  copy.setAttribute("height", String(height));
  copy.setAttribute("font-family", "system-ui, sans-serif");
  return new XMLSerializer().serializeToString(copy);
}

/** Words of `text` in lines of at most `chars` characters. */
export function wrap(text: string, chars: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > chars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Where each panel goes: its top, and the whole image's size. */
export function layout(panels: PanelPicture[], width: number): { width: number; height: number; tops: number[] } {
  let y = PAD + TITLE + PAD;
  const tops: number[] = [];
  for (const p of panels) {
    tops.push(y);
    y += TITLE + (p.legend.length ? LINE : 0);
    y += p.svg ? p.height : wrap(p.note ?? "", Math.floor((width - 2 * PAD) / 7)).length * LINE;
    y += PAD;
  }
  return { width, height: y, tops };
}

/** A panel's `data-legend`: JSON written by the page; anything else is no legend. */
function legendOf(json: string | undefined): PanelPicture["legend"] {
  try {
    const legend: unknown = JSON.parse(json ?? "[]");
    return Array.isArray(legend) ? (legend as PanelPicture["legend"]) : [];
  } catch {
    return [];
  }
}

/** Reads the panels from the page: elements with `data-timeline-panel` (the title), an optional
 * `data-legend` (JSON), the Recharts chart inside, or a `[data-reason]` note. */
export function readPanels(root: HTMLElement): PanelPicture[] {
  return [...root.querySelectorAll<HTMLElement>("[data-timeline-panel]")].map((el) => {
    const svg = el.querySelector<SVGSVGElement>(".recharts-wrapper > svg");
    const width = Number(svg?.getAttribute("width")) || svg?.clientWidth || 0;
    const height = Number(svg?.getAttribute("height")) || svg?.clientHeight || 0;
    return {
      title: el.dataset.timelinePanel ?? "",
      legend: legendOf(el.dataset.legend),
      svg: svg && width && height ? standaloneSvg(svg, width, height) : null,
      width,
      height,
      note: el.querySelector("[data-reason]")?.textContent ?? null,
    };
  });
}

async function image(svg: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await img.decode();
  return img;
}

/** Draws the panels under `title` and encodes the picture as PNG (at twice the pixels, sharp on
 * high-density screens). */
export async function timelinePng(title: string, panels: PanelPicture[]): Promise<Blob> {
  const width = Math.max(640, ...panels.map((p) => p.width + 2 * PAD));
  const { height, tops } = layout(panels, width);
  const canvas = document.createElement("canvas");
  const scale = 2;
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("this browser cannot draw on a canvas");
  ctx.scale(scale, scale);
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, width, height);
  ctx.textBaseline = "top";
  ctx.fillStyle = TEXT;
  ctx.font = "600 16px system-ui, sans-serif";
  ctx.fillText(title, PAD, PAD);
  for (const [i, p] of panels.entries()) {
    let y = tops[i] ?? 0;
    ctx.fillStyle = TEXT;
    ctx.font = "600 14px system-ui, sans-serif";
    ctx.fillText(p.title, PAD, y);
    y += TITLE;
    if (p.legend.length) {
      let x = PAD;
      ctx.font = "12px system-ui, sans-serif";
      for (const l of p.legend) {
        ctx.fillStyle = l.colour;
        ctx.fillRect(x, y + 2, 10, 10);
        ctx.fillStyle = MUTED;
        ctx.fillText(l.name, x + 14, y);
        x += 14 + ctx.measureText(l.name).width + 16;
      }
      y += LINE;
    }
    if (p.svg) {
      ctx.drawImage(await image(p.svg), PAD, y, p.width, p.height);
    } else {
      ctx.fillStyle = MUTED;
      ctx.font = "13px system-ui, sans-serif";
      for (const line of wrap(p.note ?? "", Math.floor((width - 2 * PAD) / 7))) {
        ctx.fillText(line, PAD, y);
        y += LINE;
      }
    }
  }
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the PNG could not be encoded"))), "image/png"));
}
