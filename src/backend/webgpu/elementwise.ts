/** Elementwise ops on f32 activations: add (the second operand repeating over the first's leading dims), mul, activations. */
import type { Activation } from '../../vocabulary.js';
import { FLAT_INDEX, THREADS, type Recorder } from './recorder.js';

const HEAD = /* wgsl */ `
struct P { n: u32, m: u32 }
@group(0) @binding(0) var<uniform> p: P;
${FLAT_INDEX}`;

const BINARY = (expr: string) => /* wgsl */ `${HEAD}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= p.n) { return; }
  y[i] = ${expr};
}`;

/** y = a + b[i mod m] over n elements. */
export function add(r: Recorder, y: GPUBuffer, a: GPUBuffer, b: GPUBuffer, n: number, m: number): void {
  r.dispatch(BINARY('a[i] + b[i % p.m]'), { label: 'add', buffers: [a, b, y], params: [n, m] }, Math.ceil(n / THREADS));
}

/** y = a ⊙ b over n elements. */
export function mul(r: Recorder, y: GPUBuffer, a: GPUBuffer, b: GPUBuffer, n: number): void {
  r.dispatch(BINARY('a[i] * b[i]'), { label: 'mul', buffers: [a, b, y], params: [n, n] }, Math.ceil(n / THREADS));
}

// The error function as the reference's erf computes it, in f32: its Maclaurin series below 1 (terms only shrink
// there, so nothing cancels) and the continued fraction of erfc (modified Lentz) from 1 on.
const ERF = /* wgsl */ `
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 1.0) {
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 24; n++) {
      term = term * -x2 / f32(n);
      sum = sum + term / f32(2 * n + 1);
    }
    return 1.1283791670955126 * sum;
  }
  if (a > 6.0) { return sign(x); }
  var f = a;
  var c = a;
  var d = 0.0;
  for (var n = 1; n < 400; n++) {
    let k = f32(n) * 0.5;
    d = a + k * d;
    d = select(1.0 / d, 1e30, d == 0.0);
    c = a + k / c;
    if (c == 0.0) { c = 1e-30; }
    let delta = c * d;
    f = f * delta;
    if (abs(delta - 1.0) < 1e-7) { break; }
  }
  let erfc = exp(-a * a) * 0.5641895835477563 / f;
  return sign(x) * (1.0 - erfc);
}`;

const ACTIVATION: Record<Activation, string> = {
  gelu: '0.5 * v * (1.0 + erf_(v * 0.70710678118654752))',
  gelu_pytorch_tanh: '0.5 * v * (1.0 + tanh_(0.79788456080286536 * (v + 0.044715 * v * v * v)))',
  gelu_new: '0.5 * v * (1.0 + tanh_(0.79788456080286536 * (v + 0.044715 * v * v * v)))',
  quick_gelu: 'v / (1.0 + exp(-1.702 * v))',
  silu: 'v / (1.0 + exp(-v))',
  relu: 'max(v, 0.0)',
};

// tanh through exp, saturating where exp would overflow (WGSL's tanh may lose precision near 0 on some GPUs).
const TANH = /* wgsl */ `
fn tanh_(x: f32) -> f32 {
  if (abs(x) > 9.0) { return sign(x); }
  if (abs(x) < 0.004) { return x - x * x * x / 3.0; }
  let e = exp(2.0 * x);
  return (e - 1.0) / (e + 1.0);
}`;

/** y = act(x) over n elements. */
export function activation(r: Recorder, y: GPUBuffer, x: GPUBuffer, n: number, kind: Activation): void {
  const code = /* wgsl */ `${HEAD}
${ERF}
${TANH}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = ${ACTIVATION[kind]};
}`;
  r.dispatch(code, { label: `activation ${kind}`, buffers: [x, y], params: [n, 0] }, Math.ceil(n / THREADS));
}
