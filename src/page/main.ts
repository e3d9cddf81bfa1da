/**
 * The drawing page, served at `/` by `vipllava serve`: open or drop an image, mark regions, ask, and read the
 * answer as it streams. The preview is drawn by the library's own renderer (bundled here) with the seed and style
 * the server uses, so it shows the pixels the model receives. The answers come from the server
 * (server_answers.ts) or from the model loaded into this page (browser_answers.ts: WebGPU, else the CPU), as
 * the "model runs" choice says; `?compute=browser`, `?model=ID` and `?endpoint=URL` preset it, so the built page
 * also runs from any static host against a hub.
 */
import { drawVisualPrompts, fillPhrases, PALETTE, type DrawnPrompt, type ProgressEvent, type RgbImage, type ShapeName, type VisualPrompt } from '../index.js';
import { DRAW, type Answers } from './answers.js';
import { BrowserAnswers, type Checkpoint } from './browser_answers.js';
import { fromImageData, toImageData } from './pixels.js';
import { servedModel, ServerAnswers } from './server_answers.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('preview');
const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
const selection = $<HTMLDivElement>('selection');
const errorBox = $<HTMLParagraphElement>('error');
const statusLine = $<HTMLParagraphElement>('status');
const log = $<HTMLDivElement>('log');
const question = $<HTMLTextAreaElement>('question');
const query = new URLSearchParams(location.search);

const state = {
  image: null as RgbImage | null,
  /** The image with the prompts drawn: what the model receives. */
  marked: null as RgbImage | null,
  prompts: [] as VisualPrompt[],
  drawn: [] as DrawnPrompt[],
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
    state.image = fromImageData(ctx.getImageData(0, 0, bitmap.width, bitmap.height));
    state.prompts = [];
    reset();
    canvas.style.display = 'block';
    $('hint').style.display = 'none';
    render();
  } catch {
    showError('That file is not an image this browser can open.');
  }
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
  state.marked = shown;
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

// -- the conversation -----------------------------------------------------------------------------------

function reset(): void {
  answers?.reset();
  log.replaceChildren();
}

// -- where the answers are computed ---------------------------------------------------------------------

let answers: Answers | null = null;
let loading: Promise<Answers> | null = null;
const compute = () => (document.querySelector('input[name=compute]:checked') as HTMLInputElement).value as 'server' | 'browser';
const mb = (n: number) => (n / 1e6).toFixed(1);

/** The checkpoint the browser loads: ?model and ?endpoint, else the one the page's server shares under /hub. */
async function checkpoint(): Promise<Checkpoint> {
  const token = $<HTMLInputElement>('key').value;
  const repo = query.get('model');
  if (repo) return { repo, endpoint: query.get('endpoint') ?? 'https://huggingface.co', token };
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return { repo: await servedModel(headers), endpoint: new URL('hub', location.href).href, token };
}

/** The answerer the choice names, loading the model into the page the first time it is chosen. */
function choose(): Promise<Answers> {
  if (compute() === 'server') {
    loading = Promise.resolve(new ServerAnswers(() => $<HTMLInputElement>('key').value));
  } else {
    statusLine.textContent = 'Loading the model into this browser…';
    const progress = (p: ProgressEvent) => {
      statusLine.textContent = `Loading the model into this browser: ${p.stage === 'download' ? 'fetching' : 'reading'} ${p.file}, ${mb(p.loaded)} of ${mb(p.total)} MB`;
    };
    loading = checkpoint().then((c) => BrowserAnswers.load(c, progress));
    // a failed load is tried again at the next question
    loading.catch((e: Error) => {
      statusLine.textContent = '';
      showError(`The model could not be loaded into this browser: ${e.message}`);
      loading = null;
    });
  }
  const chosen = loading;
  void chosen.then((a) => {
    if (loading !== chosen) return; // chosen again meanwhile
    answers = a;
    statusLine.textContent = `The model runs ${a.where}.`;
  }, () => {});
  return chosen;
}

for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=compute]')) radio.addEventListener('change', () => {
    reset(); // a conversation stays with whoever began it
    answers = null;
    void choose();
  });
if (query.get('compute') === 'browser') $<HTMLInputElement>('compute-browser').checked = true;
void choose();

// -- asking ---------------------------------------------------------------------------------------------

function turn(role: 'user' | 'assistant', text: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.className = `turn ${role}`;
  p.textContent = text;
  log.append(p);
  log.scrollTop = log.scrollHeight;
  return p;
}

async function ask(): Promise<void> {
  showError('');
  if (!state.image || !state.marked) return showError('Open an image first.');
  let text: string;
  try {
    text = fillPhrases(question.value, state.drawn);
  } catch (e) {
    return showError((e as Error).message);
  }
  const maxNewTokens = Number($<HTMLInputElement>('max-tokens').value);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) return showError('Max new tokens must be a whole number of at least 1.');
  const asked = turn('user', text);
  const answer = turn('assistant', '');
  const ac = new AbortController();
  state.asking = ac;
  $<HTMLButtonElement>('ask').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  try {
    const a = await (loading ?? choose());
    await a.ask({ image: state.image, marked: state.marked, prompts: state.prompts, text, maxNewTokens }, ac.signal, (t) => {
      answer.textContent += t;
      log.scrollTop = log.scrollHeight;
    });
    if (ac.signal.aborted) answer.textContent += ' [stopped]';
  } catch (e) {
    asked.remove(); // nothing was answered: the conversation is as it was
    answer.remove();
    showError((e as Error).message);
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
