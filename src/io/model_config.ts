/**
 * A checkpoint's model config: its config.json, and for the original LLaVA format (config/llava_config.ts)
 * the config of the vision tower it names, opened as its own checkpoint through the same cache and hub.
 */
import { isLlavaConfig, llavaSettings, vipLlavaDictFromLlava, type LlavaSettings } from '../config/llava_config.js';
import { VipLlavaConfig } from '../config/vipllava_config.js';
import { openCheckpoint, readJson, type CheckpointFiles, type ResolveOptions } from './checkpoint.js';

export interface TowerOptions extends ResolveOptions {
  /** Where an original LLaVA-format checkpoint's vision tower is read from (default: the hub id its config names). */
  visionTower?: string | CheckpointFiles;
}

export interface ModelConfig {
  config: VipLlavaConfig;
  /** The original LLaVA format: its settings and the vision tower's files (weights, preprocessor config). */
  llava: (LlavaSettings & { tower: CheckpointFiles }) | null;
}

/** The checkpoint's VipLlava config, whichever format its config.json is in. */
export async function readModelConfig(checkpoint: CheckpointFiles, options: TowerOptions = {}): Promise<ModelConfig> {
  const file = await checkpoint.file('config.json');
  const json = await readJson(file);
  if (!isLlavaConfig(json)) return { config: VipLlavaConfig.fromDict(json, file.name), llava: null };
  const settings = llavaSettings(json, checkpoint.description, file.name);
  // the revision names the checkpoint's commit, not the tower's
  const tower = openCheckpoint(options.visionTower ?? settings.visionTower, { ...options, revision: undefined });
  const towerFile = await tower.file('config.json');
  const dict = vipLlavaDictFromLlava(json, await readJson(towerFile), file.name, towerFile.name);
  return { config: VipLlavaConfig.fromDict(dict, file.name), llava: { ...settings, tower } };
}
