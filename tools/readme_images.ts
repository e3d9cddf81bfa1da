/**
 * Draws the README's pictures with the library: a small synthetic scene, then one picture per prompt shape.
 *
 *   npx tsc -p tsconfig.json && node dist/tools/readme_images.js     # writes docs/images/*.png
 */
import { fileURLToPath } from 'node:url';
import { drawVisualPrompts, saveImage, type RgbImage, type ShapeName, type VisualPrompt } from '../src/index.node.js';
import { compositeOver } from '../src/visual_prompts/draw.js';
import { Layer } from '../src/visual_prompts/raster.js';

const OUT = fileURLToPath(new URL('../../docs/images/', import.meta.url));
const [W, H] = [336, 240];

/** Sky, grass, a sun, a house with a door, a tree. */
function scene(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sky = y < 160;
      data.set(sky ? [120 + (y * 60) / 160, 170 + (y * 40) / 160, 235] : [70, 150 - (y - 160) / 2, 60], (y * W + x) * 3);
    }
  }
  let image: RgbImage = { width: W, height: H, data };
  const layer = new Layer(W, H);
  layer.ellipse([262, 22, 306, 66], [250, 210, 60, 255], true); // sun
  layer.polygon([[60, 110], [160, 110], [160, 190], [60, 190]], [200, 180, 150, 255], true); // walls
  layer.polygon([[50, 112], [110, 62], [170, 112]], [160, 60, 50, 255], true); // roof
  layer.polygon([[98, 150], [122, 150], [122, 190], [98, 190]], [110, 70, 40, 255], true); // door
  layer.polygon([[232, 140], [244, 140], [244, 196], [232, 196]], [100, 70, 40, 255], true); // trunk
  layer.ellipse([206, 86, 270, 150], [40, 120, 50, 255], true); // crown
  image = compositeOver(image, layer);
  return image;
}

const HOUSE = [60, 110, 160, 110, 160, 190, 60, 190];
const ROOF = [50, 112, 110, 62, 170, 112];
/** Seeds picked so each picture shows its shape at a readable size (the shapes are random, as in training). */
const SEEDS: Partial<Record<ShapeName, number>> = { triangle: 59, scribble: 59, arrow: 34 };
const PROMPTS: Record<ShapeName, VisualPrompt> = {
  rectangle: { shape: 'rectangle', box: [52, 60, 168, 192], color: 'red' },
  ellipse: { shape: 'ellipse', box: [262, 22, 306, 66], color: 'blue' },
  triangle: { shape: 'triangle', polygons: [ROOF], color: 'fuchsia' },
  point: { shape: 'point', box: [98, 150, 122, 190], color: 'lime' },
  scribble: { shape: 'scribble', box: [212, 92, 264, 144], color: 'yellow' },
  mask_contour: { shape: 'mask_contour', polygons: [HOUSE, ROOF], color: 'aqua' },
  mask: { shape: 'mask', polygons: [ROOF], color: 'orange' },
  arrow: { shape: 'arrow', box: [206, 86, 270, 196], color: 'purple' },
};

async function main() {
  const base = scene();
  await saveImage(base, `${OUT}scene.png`);
  for (const [name, prompt] of Object.entries(PROMPTS)) {
    const { image, prompts } = drawVisualPrompts(base, [prompt], { seed: SEEDS[name as ShapeName] ?? 3, style: 'eval' });
    await saveImage(image, `${OUT}${name}.png`);
    console.log(`${name}: ${prompts[0].phrase}`);
  }
}

await main();
