/** `vipllava draw`: visual prompts drawn on an image as ViP-LLaVA's data was, saved to a file. */
import { saveImage } from '../index.node.js';
import { UsageError } from './generation_flags.js';
import { drawOnImage, visualPrompts } from './visual_prompt_flags.js';

export async function drawCommand(image: string | undefined, output: string | undefined, flags: Parameters<typeof visualPrompts>[0]): Promise<string> {
  if (!image) throw new UsageError('draw needs --image <file>');
  if (!output) throw new UsageError('draw needs -o <output file>');
  const prompts = visualPrompts(flags);
  if (prompts.length === 0) throw new UsageError('draw needs a region: --box x1,y1,x2,y2, --polygon x,y,... or --point x,y');
  const { image: drawn, drawn: info } = await drawOnImage(image, prompts, flags);
  await saveImage(drawn, output);
  return info.map((d, i) => `visual prompt ${i + 1}: ${d.phrase}`).join('\n');
}
