/**
 * The drawing page served at `/`: open or drop an image, mark regions, ask, and read the answer as it streams.
 * The preview is drawn by the library's own renderer (bundled here), with the seed and style the page sends, so
 * it shows the pixels the server gives the model; the image goes to the server as a lossless PNG of what the
 * browser decoded, and the prompts are drawn there again the same way.
 */
import { drawVisualPrompts, fillPhrases, PALETTE, type DrawnPrompt, type RgbImage, type ShapeName, type VisualPrompt } from '../index.js';

const DRAW = { seed: 0, style: 'eval' as const };
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('preview');
const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
const selection = $<HTMLDivElement>('selection');
const errorBox = $<HTMLParagraphElement>('error');
const log = $<HTMLDivElement>('log');
const question = $<HTMLTextAreaElement>('question');

type Message = { role: 'user' | 'assistant'; content: unknown };
const state = {
  image: null as RgbImage | null,
  png: '',
  prompts: [] as VisualPrompt[],
  drawn: [] as DrawnPrompt[],
  history: [] as Message[],
  asking: null as AbortController | null,
};

const showError = (message: string): void => {
  errorBox.textContent = message;
};
const shape = () => (document.querySelector('input[name=shape]:checked') as HTMLInputElement).value as ShapeName;
const color = () => $<HTMLSelectElement>('color').value;

for (const name of Object.keys(PALETTE)) $<HTMLSelectElement>('color').add(new Option(name, name));

// -- the image ------------------------------------------------------------------------------------------

async function open(file: Blob): Promise<void> {
  showError('');
  try {
    const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) rgb.set(rgba.subarray(i, i + 3), j);
    state.image = { width: bitmap.width, height: bitmap.height, data: rgb };
    state.png = pngDataUrl(state.image);
    state.prompts = [];
    reset();
    canvas.style.display = 'block';
    $('hint').style.display = 'none';
    render();
  } catch {
    showError('That file is not an image this browser can open.');
  }
}

function pngDataUrl(image: RgbImage): string {
  const c = document.createElement('canvas');
  [c.width, c.height] = [image.width, image.height];
  c.getContext('2d')!.putImageData(toImageData(image), 0, 0);
  return c.toDataURL('image/png');
}

function toImageData(image: RgbImage): ImageData {
  const out = new ImageData(image.width, image.height);
  for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) {
    out.data.set(image.data.subarray(j, j + 3), i);
    out.data[i + 3] = 255;
  }
  return out;
}

/** Draws the prompts on the image with the library's renderer; a prompt it refuses is taken back. */
function render(): void {
  if (!state.image) return;
  let shown = state.image;
  state.drawn = [];
  if (state.prompts.length > 0) {
    try {
      const r = drawVisualPrompts(state.image, state.prompts, DRAW);
      [shown, state.drawn] = [r.image, r.prompts];
    } catch (e) {
      state.prompts.pop();
      showError((e as Error).message);
      return render();
    }
  }
  ctx.putImageData(toImageData(shown), 0, 0);
  const list = $<HTMLOListElement>('prompts');
  list.replaceChildren(
    ...state.drawn.map((d, i) => {
      const li = document.createElement('li');
      li.textContent = `${d.phrase} `;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'remove';
      remove.setAttribute('aria-label', `remove prompt ${i + 1}`);
      remove.onclick = () => {
        state.prompts.splice(i, 1);
        render();
      };
      li.append(remove);
      return li;
    }),
  );
}

function addPrompt(p: Omit<VisualPrompt, 'shape' | 'color'>): void {
  showError('');
  state.prompts.push({ shape: shape(), color: color(), ...p });
  render();
}

// -- drawing with the pointer ---------------------------------------------------------------------------

const at = (e: PointerEvent): [number, number] => {
  const r = canvas.getBoundingClientRect();
  return [Math.round(((e.clientX - r.left) / r.width) * canvas.width), Math.round(((e.clientY - r.top) / r.height) * canvas.height)];
};
let start: [number, number] | null = null;
let path: number[] = [];

canvas.addEventListener('pointerdown', (e) => {
  if (!state.image) return;
  canvas.setPointerCapture(e.pointerId);
  start = at(e);
  path = [...start];
});
canvas.addEventListener('pointermove', (e) => {
  if (!start) return;
  const p = at(e);
  const last = path.slice(-2);
  if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 3) path.push(...p);
  const r = canvas.getBoundingClientRect();
  const stage = $('stage').getBoundingClientRect();
  const sx = r.width / canvas.width;
  Object.assign(selection.style, {
    display: 'block',
    left: `${r.left - stage.left + Math.min(start[0], p[0]) * sx}px`,
    top: `${r.top - stage.top + Math.min(start[1], p[1]) * sx}px`,
    width: `${Math.abs(p[0] - start[0]) * sx}px`,
    height: `${Math.abs(p[1] - start[1]) * sx}px`,
  });
});
canvas.addEventListener('pointerup', (e) => {
  if (!start) return;
  const end = at(e);
  selection.style.display = 'none';
  const s = shape();
  const box: [number, number, number, number] = [Math.min(start[0], end[0]), Math.min(start[1], end[1]), Math.max(start[0], end[0]), Math.max(start[1], end[1])];
  start = null;
  if (s === 'point') addPrompt({ point: end });
  else if ((s === 'mask' || s === 'mask_contour') && path.length >= 6) addPrompt({ polygons: [path] });
  else if (box[2] > box[0] && box[3] > box[1]) addPrompt({ box });
  else showError('Drag to mark a region (a click marks only a point).');
});

$('add').onclick = () => {
  const v = ['x1', 'y1', 'x2', 'y2'].map((id) => $<HTMLInputElement>(id).value).map(Number);
  if (!state.image) return showError('Open an image first.');
  if (shape() === 'point') return addPrompt({ point: [v[0], v[1]] });
  addPrompt({ box: [v[0], v[1], v[2], v[3]] });
};
$('clear').onclick = () => {
  state.prompts = [];
  render();
};

// -- asking ---------------------------------------------------------------------------------------------

function turn(role: 'user' | 'assistant', text: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.className = `turn ${role}`;
  p.textContent = text;
  log.append(p);
  log.scrollTop = log.scrollHeight;
  return p;
}

function reset(): void {
  state.history = [];
  log.replaceChildren();
}

async function modelName(headers: Record<string, string>): Promise<string> {
  const r = await fetch('v1/models', { headers });
  const body = (await r.json()) as { data?: Array<{ id: string }>; error?: { message: string } };
  if (!r.ok) throw new Error(body.error?.message ?? `HTTP ${r.status}`);
  return body.data![0].id;
}

async function ask(): Promise<void> {
  showError('');
  if (!state.image) return showError('Open an image first.');
  let text: string;
  try {
    text = fillPhrases(question.value, state.drawn);
  } catch (e) {
    return showError((e as Error).message);
  }
  const key = $<HTMLInputElement>('key').value;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) };
  const first = state.history.length === 0;
  const message: Message = first
    ? { role: 'user', content: [{ type: 'image_url', image_url: { url: state.png }, visual_prompts: state.prompts }, { type: 'text', text }] }
    : { role: 'user', content: text };
  const asked = turn('user', text);
  const answer = turn('assistant', '');
  const ac = new AbortController();
  state.asking = ac;
  $<HTMLButtonElement>('ask').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  try {
    const response = await fetch('v1/chat/completions', {
      method: 'POST',
      headers,
      signal: ac.signal,
      body: JSON.stringify({ model: await modelName(headers), stream: true, messages: [...state.history, message], visual_prompt_options: DRAW }),
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(body.error?.message ?? `HTTP ${response.status}`);
    }
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let pending = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      const events = pending.split('\n\n');
      pending = events.pop()!;
      for (const event of events) {
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; error?: { message: string } };
        if (chunk.error) throw new Error(chunk.error.message);
        answer.textContent += chunk.choices?.[0]?.delta?.content ?? '';
      }
    }
    state.history.push(message, { role: 'assistant', content: answer.textContent ?? '' });
  } catch (e) {
    if (ac.signal.aborted) {
      state.history.push(message, { role: 'assistant', content: answer.textContent ?? '' });
      answer.textContent += ' [stopped]';
    } else {
      asked.remove(); // nothing was answered: the conversation is as it was
      answer.remove();
      showError(`The server said: ${(e as Error).message}`);
    }
  } finally {
    state.asking = null;
    $<HTMLButtonElement>('ask').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

$('ask').onclick = () => void ask();
$('stop').onclick = () => state.asking?.abort();
$('reset').onclick = reset;
$('insert').onclick = () => {
  const last = state.drawn[state.drawn.length - 1];
  if (!last) return showError('Draw a prompt first.');
  question.setRangeText(last.phrase, question.selectionStart, question.selectionEnd, 'end');
  question.focus();
};
question.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void ask();
});

// -- opening files --------------------------------------------------------------------------------------

$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void open(file);
});
const stage = $('stage');
stage.addEventListener('dragover', (e) => {
  e.preventDefault();
  stage.classList.add('over');
});
stage.addEventListener('dragleave', () => stage.classList.remove('over'));
stage.addEventListener('drop', (e) => {
  e.preventDefault();
  stage.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) void open(file);
});
